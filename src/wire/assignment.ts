/**
 * The assignment value: `{"version","lifecycle","partitions":[{"keys","weight"}]}` as parti Go
 * writes it, plus parti-ts's `"epoch"`. Unknown fields are ignored; a missing epoch means
 * "unknown" (a Go leader wrote it), never zero.
 */
import { z } from 'zod';
import { MalformedValueError } from '../errors.js';
import type { Assignment, Partition } from '../types.js';

const partitionSchema = z.object({
  keys: z.array(z.string()).nullable().transform((k) => k ?? []),
  weight: z.number().int().default(0),
});

const assignmentSchema = z.object({
  version: z.number().int().min(0),
  lifecycle: z.string().default(''),
  partitions: z.array(partitionSchema).nullable().transform((p) => p ?? []),
  epoch: z.number().int().min(0).optional(),
});

/** Parse a stored value. Throws MalformedValueError (naming the key) when it does not fit. */
export function decodeAssignment(key: string, raw: string): Assignment {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (cause) {
    throw new MalformedValueError(key, 'not JSON', { cause });
  }
  const parsed = assignmentSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new MalformedValueError(key, `${issue?.path.join('.') || 'value'}: ${issue?.message ?? 'invalid'}`, {
      cause: parsed.error,
    });
  }
  const { version, lifecycle, partitions, epoch } = parsed.data;
  return { version, lifecycle, partitions, epoch };
}

/** Compact JSON in Go field order, with `epoch` last. */
export function encodeAssignment(a: {
  version: number;
  lifecycle: string;
  partitions: readonly Partition[];
  epoch: number | undefined;
}): string {
  const partitions = a.partitions.map((p) => ({ keys: [...p.keys], weight: p.weight }));
  const out: Record<string, unknown> = { version: a.version, lifecycle: a.lifecycle, partitions };
  if (a.epoch !== undefined) out.epoch = a.epoch;
  return JSON.stringify(out);
}

/**
 * Whether `next` should replace `current`. A newer version wins, except that an assignment
 * from an older leader epoch is rejected when both epochs are known: a deposed or paused leader
 * cannot overwrite what a newer leader published.
 */
export function isNewerAssignment(current: Assignment | undefined, next: Assignment): boolean {
  if (current === undefined) return true;
  if (current.epoch !== undefined && next.epoch !== undefined && next.epoch < current.epoch) return false;
  return next.version > current.version;
}

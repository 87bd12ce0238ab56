// Types for scripts/nats-server.mjs (plain ESM so that it runs before any TypeScript tooling).

export interface ResolveNatsServerOptions {
  /** A version line ("2.10") or exact version ("2.10.27"); default $NATS_SERVER_VERSION, then the newest. */
  version?: string;
  /** Skip $NATS_SERVER_BIN (used when a test asks for a specific version line). */
  ignoreEnvBin?: boolean;
}

/** Absolute path of a usable nats-server binary; fetches Debian's package into the cache if needed. */
export declare function resolveNatsServer(opts?: ResolveNatsServerOptions): Promise<string>;

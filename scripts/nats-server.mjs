#!/usr/bin/env node
// Finds a usable nats-server binary and prints its absolute path on stdout (progress goes to
// stderr). Also importable: `resolveNatsServer({ version })` returns the same path.
//
// Resolution order:
//   1. $NATS_SERVER_BIN (must exist and run; it wins even over a requested version);
//   2. `nats-server` on PATH, if it is >= 2.10 and on the requested version line;
//   3. Debian's `nats-server` package, fetched with `apt-get download` through a private apt
//      state (the machine's apt configuration is not touched, nothing is installed) and unpacked
//      with `dpkg -x` into <project>/.cache/nats-server/ (or $NATS_SERVER_CACHE_DIR), reused later.
// Requested version: option `version` or $NATS_SERVER_VERSION, a line such as "2.10" or an exact
// "2.10.27"; unset means the newest Debian carries (unstable). The archive URI comes from the
// machine's own apt sources; signatures are checked against the machine's Debian keyring.
import { spawnSync } from 'node:child_process';
import process from 'node:process';
import { randomBytes, createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, accessSync, constants } from 'node:fs';
import { mkdir, rename, rm, symlink, writeFile, chmod, readFile, realpath } from 'node:fs/promises';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const MIN_VERSION = '2.10.0';
const PACKAGE = 'nats-server';
/** Debian suites searched per requested version line; the default (newest) comes from unstable. */
const SUITES_BY_LINE = { latest: ['sid'], '2.10': ['trixie'] };
const SUITES_OTHER = ['sid', 'trixie'];
const KEYRING_FALLBACK_SUITES = ['stable'];
const MACHINE_KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';
const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const log = (msg) => process.stderr.write(`nats-server.mjs: ${msg}\n`);

class ResolveError extends Error {
  constructor(message, options) {
    super(message, options);
    this.name = 'ResolveError';
  }
}

const HOW_TO =
  'Provide a binary with NATS_SERVER_BIN=/path/to/nats-server (nats-server >= 2.10, from the ' +
  'nats-server release page or your distribution), or put one on PATH.';

/** Parses "nats-server: v2.10.27" (or any text holding a version) into "2.10.27". */
function parseVersion(text) {
  const m = /v?(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)/.exec(text);
  return m ? m[1] : undefined;
}

function compareVersions(a, b) {
  const pa = a.split(/[-+~]/)[0].split('.').map(Number);
  const pb = b.split(/[-+~]/)[0].split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** True when upstream version `v` is on the requested line ("2.10" matches "2.10.27"). */
function onLine(v, line) {
  if (!line || line === 'latest') return true;
  const want = line.replace(/^v/, '').split('.');
  const have = v.split(/[-+~]/)[0].split('.');
  return want.every((part, i) => part === have[i]);
}

function binaryVersion(bin) {
  const r = spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 15_000 });
  if (r.error || r.status !== 0) return undefined;
  return parseVersion(`${r.stdout}${r.stderr}`);
}

function isExecutable(p) {
  try {
    accessSync(p, constants.X_OK);
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

function findOnPath(name) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, name);
    if (isExecutable(p)) return p;
  }
  return undefined;
}

function normaliseRequest(version) {
  const v = (version ?? '').trim().replace(/^v/, '');
  if (v === '' || v === 'latest') return 'latest';
  if (!/^\d+(\.\d+){0,2}$/.test(v)) {
    throw new ResolveError(`invalid requested nats-server version "${version}" (want e.g. 2.10 or 2.10.27)`);
  }
  return v;
}

// ---------------------------------------------------------------------------------------------
// The machine's apt configuration (read only).

/** Debian archive URIs configured on this machine, best first. */
function machineDebianUris() {
  const entries = [];
  const files = [];
  if (existsSync('/etc/apt/sources.list')) files.push('/etc/apt/sources.list');
  if (existsSync('/etc/apt/sources.list.d')) {
    for (const f of readdirSync('/etc/apt/sources.list.d').sort()) {
      if (f.endsWith('.sources') || f.endsWith('.list')) files.push(join('/etc/apt/sources.list.d', f));
    }
  }
  for (const file of files) {
    let text;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    if (file.endsWith('.sources')) {
      for (const stanza of text.split(/\n\s*\n/)) {
        const fields = {};
        let last;
        for (const line of stanza.split('\n')) {
          if (/^\s*#/.test(line) || line.trim() === '') continue;
          const m = /^([A-Za-z-]+):\s*(.*)$/.exec(line);
          if (m) {
            last = m[1].toLowerCase();
            fields[last] = m[2].trim();
          } else if (last && /^\s/.test(line)) {
            fields[last] += ` ${line.trim()}`;
          }
        }
        if ((fields.enabled ?? 'yes').toLowerCase() === 'no') continue;
        if (!(fields.types ?? '').split(/\s+/).includes('deb')) continue;
        for (const uri of (fields.uris ?? '').split(/\s+/).filter(Boolean)) {
          entries.push({ uri, suites: (fields.suites ?? '').split(/\s+/), signedBy: fields['signed-by'] ?? '' });
        }
      }
    } else {
      for (const raw of text.split('\n')) {
        const line = raw.replace(/#.*/, '').trim();
        const m = /^deb\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)/.exec(line);
        if (!m) continue;
        const signedBy = /signed-by=(\S+)/.exec(m[1] ?? '')?.[1] ?? '';
        entries.push({ uri: m[2], suites: [m[3]], signedBy });
      }
    }
  }
  const isDebian = (e) =>
    /\/debian\/?$/.test(e.uri) ||
    (/debian-archive-keyring/.test(e.signedBy) && !e.suites.some((s) => /-security$/.test(s)));
  const uris = [];
  for (const e of entries.filter(isDebian)) {
    const uri = e.uri.replace(/\/+$/, '');
    if (!uris.some((u) => u.uri === uri)) uris.push({ uri, suites: e.suites });
  }
  return uris;
}

// ---------------------------------------------------------------------------------------------
// A private apt state under a temporary directory.

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...opts });
  if (r.error) throw new ResolveError(`${cmd} failed to start: ${r.error.message}`, { cause: r.error });
  return r;
}

function tail(text, lines = 15) {
  return text.trim().split('\n').slice(-lines).join('\n');
}

class PrivateApt {
  constructor(dir, uri, suites, keyring) {
    this.dir = dir;
    this.uri = uri;
    this.suites = suites;
    this.keyring = keyring;
  }

  get options() {
    const d = this.dir;
    return [
      '-o', `Dir::Etc::SourceList=${join(d, 'sources.list')}`,
      '-o', 'Dir::Etc::SourceParts=/dev/null',
      '-o', `Dir::State::Lists=${join(d, 'lists')}`,
      '-o', `Dir::Cache=${join(d, 'cache')}`,
      '-o', 'Dir::Etc::Preferences=/dev/null',
      '-o', 'Dir::Etc::PreferencesParts=/dev/null',
      '-o', 'APT::Get::List-Cleanup=false',
      '-o', 'Acquire::Languages=none',
      '-o', 'Debug::NoLocking=true',
      // The private state lives in the project tree, which the unprivileged _apt user may not be
      // able to reach (a clone under a 0700 temp dir): download as the invoking user instead.
      '-o', 'APT::Sandbox::User=root',
      '-o', 'APT::Update::Error-Mode=any',
      '-qq',
    ];
  }

  async init() {
    await mkdir(join(this.dir, 'lists', 'partial'), { recursive: true });
    await mkdir(join(this.dir, 'cache', 'archives', 'partial'), { recursive: true });
    await mkdir(join(this.dir, 'debs'), { recursive: true });
    const lines = this.suites.map((s) => `deb [signed-by=${this.keyring}] ${this.uri} ${s} main`);
    await writeFile(join(this.dir, 'sources.list'), `${lines.join('\n')}\n`);
    // apt downloads as the unprivileged `_apt` user when run as root: let it write here.
    if (process.getuid?.() === 0) {
      for (const d of ['lists/partial', 'cache/archives/partial', 'debs']) await chmod(join(this.dir, d), 0o777);
    }
  }

  update() {
    const r = run('apt-get', [...this.options, 'update']);
    const out = `${r.stdout}\n${r.stderr}`;
    if (r.status !== 0 || /^(E|W):/m.test(out)) {
      const sig = /NO_PUBKEY|EXPKEYSIG|not signed|signatures? (were|was|couldn't be) (invalid|verified)|OpenPGP|GPG error/i.test(out);
      throw Object.assign(new ResolveError(`apt-get update (${this.suites.join(', ')} from ${this.uri}) failed:\n${tail(out)}`), { signature: sig });
    }
  }

  /** Versions of `pkg` available, as [{ version, upstream }], newest upstream first. */
  versions(pkg) {
    const r = run('apt-cache', [...this.options, 'madison', pkg]);
    const found = [];
    for (const line of r.stdout.split('\n')) {
      const cols = line.split('|').map((c) => c.trim());
      if (cols[0] !== pkg || !cols[1]) continue;
      const version = cols[1];
      const upstream = version.replace(/^\d+:/, '').replace(/-[^-]*$/, '');
      if (!found.some((f) => f.version === version)) found.push({ version, upstream, origin: cols[2] ?? '' });
    }
    return found.sort((a, b) => compareVersions(b.upstream, a.upstream));
  }

  /** Downloads `pkg=version` and unpacks it with dpkg -x; returns the unpack root and the .deb. */
  download(pkg, version) {
    const debs = join(this.dir, 'debs');
    const r = run('apt-get', [...this.options, 'download', `${pkg}=${version}`], { cwd: debs });
    const deb = readdirSync(debs).find((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb'));
    if (r.status !== 0 || !deb) {
      throw new ResolveError(`apt-get download ${pkg}=${version} failed:\n${tail(`${r.stdout}\n${r.stderr}`)}`);
    }
    const root = join(this.dir, `root-${pkg}`);
    const x = run('dpkg', ['-x', join(debs, deb), root]);
    if (x.status !== 0) throw new ResolveError(`dpkg -x ${deb} failed:\n${tail(x.stderr)}`);
    return { root, deb: join(debs, deb) };
  }
}

// ---------------------------------------------------------------------------------------------
// Fetching into the cache.

function cacheDir() {
  return resolve(process.env.NATS_SERVER_CACHE_DIR || join(PROJECT_ROOT, '.cache', 'nats-server'));
}

function requireTools() {
  for (const tool of ['apt-get', 'apt-cache', 'dpkg']) {
    const r = spawnSync(tool, ['--version'], { encoding: 'utf8' });
    if (r.error) {
      throw new ResolveError(
        `no usable nats-server found, and it cannot be fetched here: '${tool}' is not available ` +
          `(the fetch uses Debian's package). ${HOW_TO}`,
      );
    }
  }
}

async function fetchKeyring(tmp, uri, keyring) {
  const apt = new PrivateApt(join(tmp, 'keyring-apt'), uri, KEYRING_FALLBACK_SUITES, keyring);
  await apt.init();
  apt.update();
  const best = apt.versions('debian-archive-keyring')[0];
  if (!best) throw new ResolveError('debian-archive-keyring not found in the fallback suites');
  log(`fetching debian-archive-keyring ${best.version} (verified with ${keyring})`);
  const { root } = apt.download('debian-archive-keyring', best.version);
  for (const name of ['debian-archive-keyring.pgp', 'debian-archive-keyring.gpg']) {
    const p = join(root, 'usr', 'share', 'keyrings', name);
    if (existsSync(p)) return realpath(p);
  }
  throw new ResolveError('the fetched debian-archive-keyring package holds no archive keyring');
}

async function fetchFromDebian(request) {
  requireTools();
  const uris = machineDebianUris();
  if (uris.length === 0) {
    throw new ResolveError(
      `no Debian archive is configured in /etc/apt/sources.list{,.d} to fetch nats-server from. ${HOW_TO}`,
    );
  }
  const suites = SUITES_BY_LINE[request] ?? SUITES_OTHER;
  const keyring = process.env.NATS_SERVER_APT_KEYRING || MACHINE_KEYRING;
  if (!existsSync(keyring)) {
    throw new ResolveError(`the Debian archive keyring ${keyring} is missing (package debian-archive-keyring). ${HOW_TO}`);
  }
  const cache = cacheDir();
  await mkdir(cache, { recursive: true });
  const tmp = join(cache, `.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  const started = Date.now();
  try {
    const errors = [];
    for (const { uri } of uris) {
      let apt = new PrivateApt(join(tmp, 'apt'), uri, suites, keyring);
      await apt.init();
      log(`fetching package lists of Debian ${suites.join(', ')} from ${uri} (private apt state)`);
      try {
        try {
          apt.update();
        } catch (err) {
          if (!err.signature) throw err;
          // The newest suites can be signed by keys newer than the machine's keyring: take the
          // newest debian-archive-keyring from Debian stable, itself verified with the machine
          // keyring, and retry. Verification stays on throughout.
          log(`signature check failed with ${keyring}; trying a newer debian-archive-keyring`);
          const newer = await fetchKeyring(tmp, uri, keyring);
          await rm(join(tmp, 'apt'), { recursive: true, force: true });
          apt = new PrivateApt(join(tmp, 'apt'), uri, suites, newer);
          await apt.init();
          apt.update();
        }
        const candidates = apt
          .versions(PACKAGE)
          .filter((c) => compareVersions(c.upstream, MIN_VERSION) >= 0 && onLine(c.upstream, request));
        const best = candidates[0];
        if (!best) {
          const all = apt.versions(PACKAGE).map((c) => c.version);
          throw new ResolveError(
            `Debian ${suites.join(', ')} carries no nats-server on line "${request}" ` +
              `(available: ${all.join(', ') || 'none'})`,
          );
        }
        log(`downloading ${PACKAGE} ${best.version} (${best.origin})`);
        const { root, deb } = apt.download(PACKAGE, best.version);
        const bin = ['usr/sbin/nats-server', 'usr/bin/nats-server'].map((p) => join(root, p)).find(isExecutable);
        if (!bin) throw new ResolveError(`the ${PACKAGE} ${best.version} package holds no nats-server binary`);
        const out = join(tmp, 'out');
        await mkdir(out);
        await rename(bin, join(out, 'nats-server'));
        const ran = binaryVersion(join(out, 'nats-server'));
        if (!ran) throw new ResolveError(`the fetched nats-server ${best.version} does not run here (--version failed)`);
        const sha256 = createHash('sha256').update(await readFile(deb)).digest('hex');
        await writeFile(
          join(out, 'SOURCE.json'),
          `${JSON.stringify({ package: PACKAGE, version: best.version, origin: best.origin, deb: deb.split('/').pop(), sha256, fetched: new Date().toISOString() }, null, 2)}\n`,
        );
        const final = await publish(cache, tmp, out, ran, request);
        log(`nats-server ${ran} ready in ${final} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
        return join(final, 'nats-server');
      } catch (err) {
        errors.push(err);
        await rm(join(tmp, 'apt'), { recursive: true, force: true });
      }
    }
    const detail = errors.map((e) => e.message).join('\n');
    throw new ResolveError(`could not fetch Debian's nats-server:\n${detail}\n${HOW_TO}`, { cause: errors[0] });
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/**
 * Moves the unpacked binary to <cache>/<upstream version>/ with an atomic rename (a concurrent
 * fetch of the same version may win: its result is used), then points the alias
 * <cache>/<request>/ at it, again by atomic rename of a fresh symlink.
 */
async function publish(cache, tmp, out, version, request) {
  const final = join(cache, version);
  try {
    await rename(out, final);
  } catch (err) {
    if (!['ENOTEMPTY', 'EEXIST'].includes(err.code) || !binaryVersion(join(final, 'nats-server'))) throw err;
  }
  if (request !== version) {
    const link = join(tmp, 'alias');
    await symlink(version, link);
    await rename(link, join(cache, request));
  }
  return final;
}

async function fromCache(request) {
  const dir = join(cacheDir(), request);
  const bin = join(dir, 'nats-server');
  if (!isExecutable(bin)) return undefined;
  const v = binaryVersion(bin);
  if (!v || !onLine(v, request)) return undefined;
  return realpath(bin);
}

// ---------------------------------------------------------------------------------------------

/**
 * Returns the absolute path of a usable nats-server binary (see the header for the order).
 * @param {{ version?: string, ignoreEnvBin?: boolean }} [opts]
 *   `version`: a line ("2.10") or exact version; defaults to $NATS_SERVER_VERSION, then newest.
 *   `ignoreEnvBin`: skip $NATS_SERVER_BIN (the test harness uses it when a test asks for a line).
 * @returns {Promise<string>}
 */
export async function resolveNatsServer({ version, ignoreEnvBin = false } = {}) {
  const envBin = process.env.NATS_SERVER_BIN;
  if (envBin && !ignoreEnvBin) {
    const p = resolve(envBin);
    if (!isExecutable(p)) throw new ResolveError(`NATS_SERVER_BIN=${envBin} does not exist or is not executable`);
    return p;
  }
  const request = normaliseRequest(version ?? process.env.NATS_SERVER_VERSION);

  const onPath = findOnPath('nats-server');
  if (onPath) {
    const v = binaryVersion(onPath);
    if (v && compareVersions(v, MIN_VERSION) >= 0 && onLine(v, request)) return realpath(onPath);
    log(`ignoring ${onPath} (version ${v ?? 'unknown'}; want >= ${MIN_VERSION}${request === 'latest' ? '' : `, line ${request}`})`);
  }

  const cached = await fromCache(request);
  if (cached) return cached;
  return fetchFromDebian(request);
}

const isMain = process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  try {
    const bin = await resolveNatsServer();
    process.stdout.write(`${bin}\n`);
  } catch (err) {
    log(err instanceof ResolveError ? err.message : String(err?.stack ?? err));
    process.exitCode = 1;
  }
}

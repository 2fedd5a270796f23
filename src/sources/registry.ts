// The ONE table of price-source kinds: name → options (schema, help, the flag that gives a default) and factory.
// Also turns stream specs (`NAME[:KIND[,key=value…]]`, or the entries of a streams file) into checked stream
// definitions. Reading flags and files is the CLI's job; running the sources is src/stream's.
import { z } from 'zod';
import { BynerError, describe } from '../errors.js';
import { DEFAULT_SOURCE } from '../ticks/generator.js';
import { STREAM_NAME } from '../ticks/types.js';
import { FeedSource } from './feed.js';
import { ReplaySource } from './replay.js';
import { SyntheticSource } from './synthetic.js';
import type { PriceSource, SourceContext } from './types.js';

/** A stream option as given: text from a spec, or a JSON value from a streams file. */
type RawOption = string | number | boolean;

interface OptionSpec {
  help: string;
  expected: string;
  schema: z.ZodType<unknown, RawOption>;
}

interface KindSpec {
  help: string;
  /** true: makes points only while the stream has readers; false: points arrive on their own. */
  onDemand: boolean;
  options: Record<string, OptionSpec>;
  /** Options that must be given (in the spec, the file, or through their flag). */
  required?: string[];
  create(options: Record<string, unknown>, context: SourceContext): Promise<PriceSource>;
}

const number = (min: number, max: number, exclusiveMin = false) =>
  z
    .union([
      z.number(),
      z
        .string()
        .trim()
        .regex(/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/)
        .transform(Number),
    ])
    .pipe(z.number().refine((x) => Number.isFinite(x) && (exclusiveMin ? x > min : x >= min) && x <= max));
const integer = (min: number, max: number) => number(min, max).pipe(z.number().int());
const flag = z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')]);
const streamName = z.string().regex(STREAM_NAME);
const httpUrl = z
  .string()
  .trim()
  .regex(/^https?:\/\/[^\s,]+$/);

const sine = (help: string): OptionSpec => ({
  help,
  expected: 'a number >= 0',
  schema: number(0, Number.MAX_VALUE),
});

/** The price-source kinds. The first is the kind of a spec that names none. */
export const SOURCE_KINDS = {
  synthetic: {
    help: 'the noisy, clipped sine of `byner generate` (DESIGN §2); the price of tick t is a function of (seed, t)',
    onDemand: true,
    options: {
      seed: { help: 'seed (--seed)', expected: 'an integer between 0 and 2^53', schema: integer(0, 2 ** 53) },
      amplitude: sine('sine amplitude A (--amplitude)'),
      frequency: sine('cycles per tick f (--frequency)'),
      noise: sine('standard deviation of the noise (--noise)'),
      bound: sine('prices clipped to [-B, B] (--bound)'),
      interval: {
        help: 'ms between ticks, 0 = as fast as the clients read (--interval)',
        expected: 'an integer between 0 and 3,600,000',
        schema: integer(0, 3_600_000),
      },
    },
    async create(o) {
      return new SyntheticSource({
        seed: (o.seed as number | undefined) ?? DEFAULT_SOURCE.seed,
        amplitude: (o.amplitude as number | undefined) ?? DEFAULT_SOURCE.amplitude,
        frequency: (o.frequency as number | undefined) ?? DEFAULT_SOURCE.frequency,
        noise: (o.noise as number | undefined) ?? DEFAULT_SOURCE.noise,
        bound: (o.bound as number | undefined) ?? DEFAULT_SOURCE.bound,
        intervalMs: (o.interval as number | undefined) ?? 1000,
      });
    },
  },
  replay: {
    help: 'the stored ticks of another stream, as a live stream: at speed × their own spacing or a fixed interval',
    onDemand: true,
    options: {
      from: { help: 'the stream to replay (--from)', expected: 'a stream name', schema: streamName },
      speed: {
        help: 'times faster than the source timestamps (--speed; default 1)',
        expected: 'a number > 0',
        schema: number(0, 1e9, true),
      },
      interval: {
        help: 'a fixed ms between ticks instead, 0 = as fast as the clients read (--interval)',
        expected: 'an integer between 0 and 3,600,000',
        schema: integer(0, 3_600_000),
      },
      loop: { help: 'start again after the last tick (--loop)', expected: 'true or false', schema: flag },
    },
    required: ['from'],
    async create(o, context) {
      return ReplaySource.open(
        context.store,
        {
          from: o.from as string,
          speed: o.speed as number | undefined,
          intervalMs: o.interval as number | undefined,
          loop: o.loop === true,
        },
        context.stream,
      );
    },
  },
  feed: {
    help: 'prices from outside: JSON lines on stdin, or an SSE / NDJSON HTTP feed (url=)',
    onDemand: false,
    options: {
      url: {
        help: 'an SSE (text/event-stream) or NDJSON feed; without it, stdin (--feed-url)',
        expected: 'an http:// or https:// URL without commas (put one with commas in a streams file)',
        schema: httpUrl,
      },
    },
    async create(o, context) {
      return new FeedSource({
        url: o.url as string | undefined,
        input: o.url === undefined ? (context.stdin ?? process.stdin) : undefined,
        logger: context.logger,
      });
    },
  },
} satisfies Record<string, KindSpec>;

export type SourceKind = keyof typeof SOURCE_KINDS;
export const KIND_NAMES = Object.keys(SOURCE_KINDS) as SourceKind[];
const kindSpec = (kind: SourceKind): KindSpec => SOURCE_KINDS[kind];

/** A stream as written: its name, kind and options not yet checked. */
export interface StreamSpec {
  name: string;
  kind: string;
  options: Record<string, RawOption>;
  /** Where it came from, for messages: `--stream co2:replay,…` or `streams.yaml entry 2`. */
  origin: string;
}

/** A checked stream definition: what `openSources` turns into running sources. */
export interface StreamDefinition {
  name: string;
  kind: SourceKind;
  options: Record<string, unknown>;
}

/**
 * Parses `NAME[:KIND[,key=value|flag…]]`: `co2:replay,from=co2raw,speed=60,loop`. Syntax only; `checkStreams`
 * checks names, kinds and options.
 */
export function parseStreamSpec(spec: string): StreamSpec {
  const origin = `--stream ${spec}`;
  const colon = spec.indexOf(':');
  const name = (colon < 0 ? spec : spec.slice(0, colon)).trim();
  const rest = colon < 0 ? '' : spec.slice(colon + 1);
  const [kind = '', ...pairs] = rest.split(',').map((p) => p.trim());
  const options: Record<string, RawOption> = {};
  for (const pair of pairs) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const key = eq < 0 ? pair : pair.slice(0, eq).trim();
    if (key in options) throw specError(origin, `option ${key} given twice`, 'each option once', pair);
    options[key] = eq < 0 ? true : pair.slice(eq + 1).trim();
  }
  return { name, kind: colon < 0 ? KIND_NAMES[0] : kind, options, origin };
}

/** Entries of a streams file (already parsed JSON or YAML): `[{name, source, …options}]`. */
export function streamSpecsFromFile(value: unknown, file: string): StreamSpec[] {
  const list = Array.isArray(value)
    ? value
    : typeof value === 'object' && value !== null && Array.isArray((value as { streams?: unknown }).streams)
      ? (value as { streams: unknown[] }).streams
      : null;
  if (list === null || list.length === 0) {
    throw new BynerError('BYNER_CONFIG', `${file}: not a list of streams`, {
      expected: 'a non-empty list of {name, source, ...options} (or {streams: [...]})',
      received: describe(value),
      hint: 'see README, "Many streams": an example file',
    });
  }
  return list.map((entry, i) => {
    const origin = `${file} entry ${i + 1}`;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      throw specError(origin, 'not an object', '{name, source, ...options}', describe(entry));
    }
    const { name, source, ...rest } = entry as Record<string, unknown>;
    const options: Record<string, RawOption> = {};
    for (const [key, v] of Object.entries(rest)) {
      if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') {
        throw specError(origin, `option ${key} is not a string, number or boolean`, 'a scalar', describe(v));
      }
      options[key] = v;
    }
    return {
      name: typeof name === 'string' ? name : describe(name),
      kind: source === undefined ? KIND_NAMES[0] : typeof source === 'string' ? source : describe(source),
      options,
      origin,
    };
  });
}

function specError(origin: string, what: string, expected: string, received: string): BynerError {
  return new BynerError('BYNER_CONFIG', `invalid stream (${origin}): ${what}`, { expected, received });
}

/** Option defaults that come from flags (`--seed`, `--from`, …), per kind. Keys are option names. */
export type KindDefaults = Partial<Record<SourceKind, Record<string, RawOption | undefined>>>;

/**
 * Checks stream specs against the registry: names unique and well-formed, known kinds, known options with valid
 * values, required ones present (after flag defaults), at most one feed on stdin. Throws one BYNER_CONFIG error
 * listing every problem, each with what was expected and what was received.
 */
export function checkStreams(specs: readonly StreamSpec[], defaults: KindDefaults = {}): StreamDefinition[] {
  const problems: string[] = [];
  const out: StreamDefinition[] = [];
  const seen = new Set<string>();
  let stdinFeed: string | null = null;
  const problem = (s: StreamSpec, what: string, expected: string, received: string) =>
    problems.push(`${s.origin}: ${what}: expected ${expected}, received ${received}`);
  for (const s of specs) {
    if (!STREAM_NAME.test(s.name)) {
      problem(s, 'bad stream name', 'letters, digits, dot, dash or underscore (1-64)', describe(s.name));
      continue;
    }
    if (seen.has(s.name)) {
      problem(s, `stream ${s.name} defined twice`, 'unique stream names', describe(s.name));
      continue;
    }
    seen.add(s.name);
    if (!(s.kind in SOURCE_KINDS)) {
      problem(s, 'unknown source kind', `one of ${KIND_NAMES.join(', ')}`, describe(s.kind));
      continue;
    }
    const kind = s.kind as SourceKind;
    const spec = kindSpec(kind);
    const options: Record<string, unknown> = {};
    let ok = true;
    for (const [key, raw] of Object.entries(s.options)) {
      const option = spec.options[key];
      if (option === undefined) {
        const known = Object.keys(spec.options);
        problem(s, `unknown option ${key} for ${kind}`, `one of ${known.join(', ')}`, describe(key));
        ok = false;
        continue;
      }
      const r = option.schema.safeParse(raw);
      if (r.success) options[key] = r.data;
      else {
        problem(s, `bad ${key}`, option.expected, describe(raw));
        ok = false;
      }
    }
    // Flag defaults fill the options the stream does not set. A replay's pace is one of speed and interval: its own
    // wins, else --speed (replay's own flag, first in the defaults) over the general --interval.
    for (const [key, raw] of Object.entries(defaults[kind] ?? {})) {
      if (raw === undefined || key in options) continue;
      if (
        kind === 'replay' &&
        (key === 'speed' || key === 'interval') &&
        ('speed' in options || 'interval' in options)
      )
        continue;
      const r = spec.options[key].schema.safeParse(raw);
      if (r.success) options[key] = r.data;
    }
    if (kind === 'replay' && 'speed' in s.options && 'interval' in s.options) {
      problem(
        s,
        'speed and interval both given',
        'one of speed= (× the source spacing) or interval= (fixed ms)',
        `speed=${s.options.speed}, interval=${s.options.interval}`,
      );
      ok = false;
    }
    for (const key of spec.required ?? []) {
      if (!(key in options)) {
        problem(s, `${kind} needs ${key}`, `${key}=… (${spec.options[key].help})`, 'none');
        ok = false;
      }
    }
    if (kind === 'replay' && options.from === s.name) {
      problem(s, 'a stream cannot replay itself', 'from= another stream', `from=${s.name}`);
      ok = false;
    }
    if (kind === 'feed' && options.url === undefined) {
      if (stdinFeed !== null) {
        problem(
          s,
          'two feeds read stdin',
          `one stdin feed (${stdinFeed} has it); give the others url=`,
          s.name,
        );
        ok = false;
      } else stdinFeed = s.name;
    }
    if (ok) out.push({ name: s.name, kind, options });
  }
  if (problems.length > 0) {
    throw new BynerError(
      'BYNER_CONFIG',
      `invalid stream definition${problems.length > 1 ? 's' : ''} (${problems.length}):\n  - ${problems.join('\n  - ')}`,
      {
        hint: `a stream is NAME[:KIND[,key=value...]]; kinds: ${KIND_NAMES.map((k) => `${k} (${Object.keys(kindSpec(k).options).join(', ')})`).join('; ')}`,
      },
    );
  }
  return out;
}

/** Does some stream of these definitions use a kind that takes option `key`? (A flag no stream uses is refused.) */
export function kindsTaking(key: string): SourceKind[] {
  return KIND_NAMES.filter((k) => key in kindSpec(k).options);
}

/** Opens each stream's source (a replay checks its source stream has ticks). */
export async function openSources(
  definitions: readonly StreamDefinition[],
  context: Omit<SourceContext, 'stream'>,
): Promise<{ name: string; source: PriceSource }[]> {
  const out: { name: string; source: PriceSource }[] = [];
  for (const d of definitions) {
    out.push({
      name: d.name,
      source: await kindSpec(d.kind).create(d.options, { ...context, stream: d.name }),
    });
  }
  return out;
}

/** Each kind and its options (one per line), for `byner serve --help`. */
export function describeKinds(): string {
  return KIND_NAMES.map((k) => {
    const spec = kindSpec(k);
    const options = Object.entries(spec.options).map(([name, o]) => `    ${name}=  ${o.help}`);
    return [`${k}: ${spec.help}`, ...options].join('\n');
  }).join('\n');
}

/** Whether sources of this kind make points only when asked (registry fact; each source says it too). */
export const isOnDemandKind = (kind: SourceKind): boolean => kindSpec(kind).onDemand;

// Validates raw setting values (already merged flag > env > default by the CLI parser) against SETTINGS and
// throws one BYNER_CONFIG error listing every bad value with its source. Knows nothing about commander.
import { BynerError } from '../errors.js';
import { SETTINGS, type Setting, type SettingName, type SettingValue } from './settings.js';

export type RawSource = 'cli' | 'env' | 'default' | 'implied' | 'config' | undefined;

export interface RawValue {
  value: string | undefined;
  source: RawSource;
}

export type Resolved<K extends SettingName> = { [P in K]: SettingValue<P> | undefined };

function sourceLabel(s: Setting<unknown>, source: RawSource): string {
  const flag = s.flags.split(/[ ,]/)[0];
  if (source === 'env' && s.env) return `${s.env} (environment)`;
  if (source === 'default') return `${flag} (default)`;
  return flag;
}

export function resolveSettings<K extends SettingName>(raw: Record<K, RawValue>): Resolved<K> {
  const problems: string[] = [];
  const out = {} as Record<K, unknown>;
  for (const name of Object.keys(raw) as K[]) {
    const spec = SETTINGS[name] as Setting<unknown>;
    const { value, source } = raw[name];
    if (value === undefined) {
      out[name] = undefined;
      continue;
    }
    const r = spec.schema.safeParse(value);
    if (r.success) out[name] = r.data;
    else
      problems.push(
        `${sourceLabel(spec, source)}: expected ${spec.expected}, received ${JSON.stringify(value)}`,
      );
  }
  if (problems.length > 0) {
    throw new BynerError(
      'BYNER_CONFIG',
      `invalid configuration (${problems.length}):\n  - ${problems.join('\n  - ')}`,
      {
        hint: 'fix the flags or environment variables above; `byner <command> --help` lists every option',
      },
    );
  }
  return out as Resolved<K>;
}

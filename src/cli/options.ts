// Bridges the settings table (src/config) and commander: adds a setting's flag with its environment variable
// and default, and reads the merged values back for validation. The only place that knows both. Two settings may
// share a flag (each command takes one of them): values are read back under the flag's commander name.
import { type Command, Option } from 'commander';
import { type RawValue, type Resolved, resolveSettings } from '../config/resolve.js';
import { SETTINGS, type SettingName } from '../config/settings.js';

export function addSettings(cmd: Command, names: readonly SettingName[]): Command {
  for (const name of names) {
    const s = SETTINGS[name];
    const o = new Option(s.flags, s.help);
    if (s.env) o.env(s.env);
    if (s.repeatable) {
      const separator = s.separator ?? ',';
      o.argParser((value: string, previous: unknown) =>
        typeof previous === 'string' ? `${previous}${separator}${value}` : value,
      );
    }
    if ('default' in s && s.default !== undefined) o.default(s.default);
    cmd.addOption(o);
  }
  return cmd;
}

/** Validated values of the named settings for this command (flags > env > defaults). */
export function readSettings<K extends SettingName>(cmd: Command, names: readonly K[]): Resolved<K> {
  const opts = cmd.optsWithGlobals() as Record<string, unknown>;
  const raw = {} as Record<K, RawValue>;
  for (const name of names) {
    const key = optionKey(name);
    const v = opts[key];
    raw[name] = {
      value: v === undefined ? undefined : String(v),
      source: cmd.getOptionValueSourceWithGlobals(key) as RawValue['source'],
    };
  }
  return resolveSettings(raw);
}

/** Commander's name for a setting's value (from its flag: `--batch-size` → `batchSize`). */
const optionKey = (name: SettingName): string => new Option(SETTINGS[name].flags).attributeName();

/** A setting's flag as users type it, from its table entry: `batchSize` → `--batch-size`, `trainStream` → `--stream`. */
export const flagOf = (name: SettingName): string => SETTINGS[name].flags.split(' ')[0];

const givenIn = <K extends SettingName>(cmd: Command, names: readonly K[], sources: readonly string[]): K[] =>
  names.filter((name) => sources.includes(String(cmd.getOptionValueSourceWithGlobals(optionKey(name)))));

/** The named settings given on the command line (not from the environment or defaults). */
export function givenOnCommandLine<K extends SettingName>(cmd: Command, names: readonly K[]): K[] {
  return givenIn(cmd, names, ['cli']);
}

/** The named settings given explicitly: on the command line or in their environment variable (not defaults). */
export function givenExplicitly<K extends SettingName>(cmd: Command, names: readonly K[]): K[] {
  return givenIn(cmd, names, ['cli', 'env']);
}

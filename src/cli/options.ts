// Bridges the settings table (src/config) and commander: adds a setting's flag with its environment variable
// and default, and reads the merged values back for validation. The only place that knows both.
import { type Command, Option } from 'commander';
import { type RawValue, type Resolved, resolveSettings } from '../config/resolve.js';
import { SETTINGS, type SettingName } from '../config/settings.js';

export function addSettings(cmd: Command, names: readonly SettingName[]): Command {
  for (const name of names) {
    const s = SETTINGS[name];
    const o = new Option(s.flags, s.help);
    if (s.env) o.env(s.env);
    if (s.repeatable) {
      o.argParser((value: string, previous: unknown) =>
        typeof previous === 'string' ? `${previous},${value}` : value,
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
    // Commander names the value after the flag: settings of different commands may share a flag (`--stream`).
    const attribute = new Option(SETTINGS[name].flags).attributeName();
    const v = opts[attribute];
    raw[name] = {
      value: v === undefined ? undefined : String(v),
      source: cmd.getOptionValueSourceWithGlobals(attribute) as RawValue['source'],
    };
  }
  return resolveSettings(raw);
}

/**
 * App settings as the app's environment: in Azure and under Core Tools, every app setting (and
 * local.settings.json `Values` entry) is an environment variable of the worker, so function code
 * reads its secrets with `process.env.Name`. The host sets them when it starts and puts the
 * previous values back when it closes; one function app per process sees its own settings.
 * @module
 */

/** Sets `settings` in `env`; the returned function restores what was there before. */
export function exposeSettings(settings: Readonly<Record<string, string>>, env: NodeJS.ProcessEnv = process.env) {
  const previous = new Map<string, string | undefined>();
  for (const [name, value] of Object.entries(settings)) {
    if (env[name] === value) continue;
    previous.set(name, env[name]);
    env[name] = value;
  }
  return (): void => {
    for (const [name, value] of previous) {
      if (value === undefined) delete env[name];
      else env[name] = value;
    }
    previous.clear();
  };
}

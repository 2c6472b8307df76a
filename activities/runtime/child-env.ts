// The environment an external program gets: not the worker's. A worker holds secrets in its own
// environment (the payload codec key, the Temporal API key, S3 and MySQL secrets named by reference);
// a child inherits none of them. It gets the few variables every program needs, the names the
// operator lists in RUNBOOK_CHILD_ENV (e.g. KUBECONFIG), and what its caller passes explicitly.

/** What every program may need to run as the worker's user: where programs are, who and where it is. */
const ALWAYS = ['PATH', 'HOME', 'USER', 'LOGNAME', 'TMPDIR', 'LANG', 'LC_ALL', 'TZ'] as const;

/** Names RUNBOOK_CHILD_ENV adds (comma- or space-separated); anything that is not a variable name is ignored. */
function allowedByOperator(): string[] {
  return (process.env.RUNBOOK_CHILD_ENV ?? '')
    .split(/[\s,]+/)
    .filter((name) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(name));
}

/** The environment for one child process: the allowed worker variables, then `extra` (which wins). */
export function childEnv(extra: Record<string, string | undefined> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of [...ALWAYS, ...allowedByOperator()]) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  for (const [name, value] of Object.entries(extra)) if (value !== undefined) env[name] = value;
  return env;
}

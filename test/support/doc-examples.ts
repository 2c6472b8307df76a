// The example inputs of README.md and docs/*.md, read out of the markdown so a test can run each one:
// fenced ```json / ```jsonc blocks (a fragment such as `"cluster": { … }` is read inside braces), the
// request files written by `cat > FILE <<'JSON'` heredocs (with the runbook the same block starts with
// that file), and the approvals each shell block gives per workflow id.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../../scripts/lib/tools';

export interface JsonExample {
  file: string;
  line: number;
  /** A fragment (keys without their enclosing object), read inside braces. */
  fragment: boolean;
  value?: unknown;
  /** Why it does not parse (the test fails on it). */
  error?: string;
}

export interface RequestExample {
  file: string;
  line: number;
  /** The file the heredoc writes (pitr.json). */
  name: string;
  /** The runbook the same block starts or plans with that file (undefined: none found). */
  kind: string | undefined;
  value: unknown;
  error?: string;
}

export interface ApprovalFlow {
  file: string;
  workflowId: string;
  /** The runbook the block starts under this workflow id (undefined: the block does not start it). */
  kind: string | undefined;
  /** The steps approved, in order. */
  steps: string[];
}

interface Block {
  file: string;
  line: number;
  lang: string;
  text: string;
}

export function docFiles(): string[] {
  const docs = readdirSync(join(projectRoot, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`);
  return ['README.md', ...docs.sort()];
}

function blocks(file: string): Block[] {
  const lines = readFileSync(join(projectRoot, file), 'utf8').split('\n');
  const out: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^\s*```(\w*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^\s*```\s*$/.test(lines[i]!); i++) body.push(lines[i]!);
    out.push({ file, line: start + 1, lang: open[1] ?? '', text: body.join('\n') });
  }
  return out;
}

/** `// …` comments of a jsonc block, outside strings. */
function stripComments(text: string): string {
  return text.replace(/("(?:[^"\\]|\\.)*")|\/\/[^\n]*/g, (_m, str: string | undefined) => str ?? '');
}

function parseJson(text: string): { value?: unknown; fragment: boolean; error?: string } {
  try {
    return { value: JSON.parse(text), fragment: false };
  } catch (whole) {
    // Several fragments one after another (`"backup": {…}` on two lines) are alternatives: read the first.
    try {
      return { value: JSON.parse(`{${text}}`), fragment: true };
    } catch {
      const first = text.split(/\n(?="\w+":)/)[0]!;
      try {
        return { value: JSON.parse(`{${first}}`), fragment: true };
      } catch {
        return { fragment: false, error: (whole as Error).message };
      }
    }
  }
}

export function jsonExamples(files = docFiles()): JsonExample[] {
  return files.flatMap((file) =>
    blocks(file)
      .filter((b) => b.lang === 'json' || b.lang === 'jsonc')
      .map((b) => ({ file, line: b.line, ...parseJson(stripComments(b.text)) })),
  );
}

/** The runbook a shell block starts with the request file `name` (temporal --type, or runbook plan/start). */
function kindFor(text: string, name: string): string | undefined {
  const flat = text.replace(/\\\n\s*/g, ' ');
  for (const line of flat.split('\n')) {
    if (!line.includes(name)) continue;
    const k = /--type (\w+)/.exec(line)?.[1] ?? /runbook(?: --)? (?:plan|start) (\w+)/.exec(line)?.[1];
    if (k) return k;
  }
  return undefined;
}

export function requestExamples(files = docFiles()): RequestExample[] {
  const out: RequestExample[] = [];
  for (const file of files)
    for (const b of blocks(file).filter((x) => x.lang === 'sh')) {
      const re = /cat > (\S+) <<'?JSON'?\n([\s\S]*?)\nJSON\n/g;
      for (let m = re.exec(`${b.text}\n`); m; m = re.exec(`${b.text}\n`)) {
        const parsed = parseJson(m[2]!);
        const line = b.line + 1 + b.text.slice(0, m.index).split('\n').length - 1;
        out.push({
          file,
          line,
          name: m[1]!,
          kind: kindFor(b.text, m[1]!),
          value: parsed.value,
          ...(parsed.error ? { error: parsed.error } : {}),
        });
      }
    }
  return out;
}

/** Per shell block and workflow id: the steps it approves, and the runbook it starts under that id. */
export function approvalFlows(files = docFiles()): ApprovalFlow[] {
  const out: ApprovalFlow[] = [];
  for (const file of files)
    for (const b of blocks(file).filter((x) => x.lang === 'sh')) {
      const flat = b.text.replace(/\\\n\s*/g, ' ');
      const flows = new Map<string, ApprovalFlow>();
      for (const line of flat.split('\n')) {
        const approve = /approve (\S+) --step (\S+)/.exec(line);
        if (!approve) continue;
        const [, workflowId, step] = approve;
        const flow = flows.get(workflowId!) ?? { file, workflowId: workflowId!, kind: undefined, steps: [] };
        flow.steps.push(step!);
        flows.set(workflowId!, flow);
      }
      for (const flow of flows.values()) {
        for (const line of flat.split('\n')) {
          const temporal = /--type (\w+).*--workflow-id (\S+)/.exec(line);
          const runbook = /runbook(?: --)? start (\w+) .*--id (\S+)/.exec(line);
          const [k, id] = temporal ? [temporal[1], temporal[2]] : runbook ? [runbook[1], runbook[2]] : [];
          if (id === flow.workflowId) flow.kind = k;
        }
        out.push(flow);
      }
    }
  return out;
}

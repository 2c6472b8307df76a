// No shell anywhere in product code: programs run from argv arrays (activities/runtime/command.ts), so a value
// from an input or a tool's output can never become a command. This guard reads every source file of
// activities/, workflows/, workers/ and scripts/ (comments left out, strings kept: `['sh', '-c', …]` is
// code) and fails on any way to reach a shell. Its own detector is checked on planted snippets first.
// That runCommand passes metacharacters literally is tested in test/unit/command.test.ts.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { projectRoot } from '../../scripts/lib/tools';

const PRODUCT_DIRS = ['activities', 'workflows', 'workers', 'scripts'];

/** The code without its comments, printed from TypeScript's own parse (strings and templates kept). */
function withoutComments(file: string, source: string): string {
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  return ts.createPrinter({ removeComments: true }).printFile(sf);
}

const RULES: { name: string; pattern: RegExp }[] = [
  {
    name: 'a `shell` option (shell: true, a shell path, or { shell } shorthand)',
    pattern: /\bshell\s*:\s*(?!false\b)[^\s,}]|[{,]\s*shell\s*[,}]/,
  },
  {
    name: 'exec( / execSync( — they always run a shell',
    pattern: /(?<![\w$.])exec(?:Sync)?\s*\(|\.execSync\s*\(/,
  },
  {
    name: 'exec/execSync imported from child_process',
    pattern: /import\s*\{[^}]*\bexec(?:Sync)?\b[^}]*\}\s*from\s*['"](?:node:)?child_process['"]/,
  },
  { name: 'child_process through require()', pattern: /require\(\s*['"](?:node:)?child_process['"]\s*\)/ },
  {
    name: 'a command string for execa (execaCommand, or the $ template tag)',
    pattern:
      /\bexecaCommand(?:Sync)?\s*\(|import\s*\{[^}]*(?<![\w$])\$(?![\w$])[^}]*\}\s*from\s*['"]execa['"]/,
  },

  { name: 'sh -c / bash -c in a string', pattern: /(?:\/bin\/)?\b(?:ba|da|z|k)?sh\s+-c\b/ },
  {
    name: 'a shell with -c as argv',
    pattern: /['"`](?:\/(?:usr\/)?bin\/)?(?:ba|da|z|k)?sh['"`]\s*,\s*(?:\[\s*)?['"`]-[a-z]*c['"`]/,
  },
];

interface Hit {
  file: string;
  line: number;
  rule: string;
  text: string;
}

export function findShellUses(file: string, source: string): Hit[] {
  const code = withoutComments(file, source);
  const hits: Hit[] = [];
  for (const rule of RULES) {
    const re = new RegExp(rule.pattern.source, 'g');
    for (let m = re.exec(code); m; m = re.exec(code)) {
      // The printed code has other line breaks: show the line of the original that holds the match.
      const codeLine = code.slice(code.lastIndexOf('\n', m.index) + 1, code.indexOf('\n', m.index) >>> 0);
      const at = source.indexOf(m[0]);
      const line = at >= 0 ? source.slice(0, at).split('\n').length : 0;
      hits.push({
        file,
        line,
        rule: rule.name,
        text: (at >= 0 ? source.split('\n')[line - 1]! : codeLine).trim(),
      });
    }
  }
  return hits;
}

async function sourceFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== 'node_modules') out.push(...(await sourceFiles(p)));
    } else if (/\.(ts|js|mjs|cjs)$/.test(e.name)) out.push(p);
  }
  return out;
}

describe('the detector (so the guard below can fail)', () => {
  const forbidden = [
    `import { execa } from 'execa';\nawait execa('mysqldump', args, { shell: true });`,
    `spawn(cmd, args, { detached: true, shell: '/bin/bash' });`,
    `const shell = true;\nspawn(cmd, args, { stdio: 'ignore', shell });`,
    `spawn('sh', ['-c', line]);`,
    `import { execSync } from 'node:child_process';\nexecSync('ls ' + dir);`,
    `import { exec } from 'child_process';\nexec(\`mariadb < \${file}\`, cb);`,
    `import { spawn, exec as run } from 'node:child_process';`,
    `const cp = require('child_process');`,
    `await execaCommand('mariadb-binlog ' + files.join(' '));`,
    `import { $ } from 'execa';\nawait $\`mariadb-binlog \${file}\`;`,
    `import { execa, $ as sh } from 'execa';`,
    `await runCommand(['/bin/sh', '-c', \`mariadb-binlog \${f} | mariadb\`]);`,
    `await runCommand(['bash', '-lc', script]);`,
    `const argv = ["sh", "-c", line];`,
    `const line = 'bash -c "mariadb-binlog x | mariadb"';`,
  ];
  for (const snippet of forbidden)
    test(`flags: ${snippet.split('\n').at(-1)}`, () => {
      assert.ok(findShellUses('planted.ts', snippet).length > 0, snippet);
    });

  const allowed = [
    `// never a shell: no sh -c, no shell: true, no execSync(\n/* exec( */ await execa(program, args, { env });`,
    `import { spawn } from 'node:child_process';\nspawn(argv[0], argv.slice(1), { detached: true, stdio: 'ignore' });`,
    `const re = /^ERROR/.exec(line); const m = pattern.exec(stdout);`,
    `await execa(weed, ['-logtostderr', 'mini'], { shell: false });`,
    `const msg = \`cost: \${price}\`; const url = 'http://x//y';`,
    `const re = new RegExp(\`^\${k}\\\\s*$\`, 'm').exec(stdout);`,
    `await runCommand(['mariadb', '--batch', '-e', 'SELECT 1']);`,
  ];
  for (const snippet of allowed)
    test(`passes: ${snippet.split('\n').at(-1)}`, () => {
      assert.deepEqual(findShellUses('planted.ts', snippet), []);
    });
});

describe('product code', () => {
  test('no file under activities/, workflows/, workers/ or scripts/ reaches a shell', async () => {
    const files = (await Promise.all(PRODUCT_DIRS.map((d) => sourceFiles(join(projectRoot, d))))).flat();
    assert.ok(files.length > 40, `only ${files.length} source files found`);
    assert.ok(files.some((f) => f.endsWith(join('activities', 'runtime', 'command.ts'))));
    const hits: Hit[] = [];
    for (const f of files) hits.push(...findShellUses(relative(projectRoot, f), await readFile(f, 'utf8')));
    assert.deepEqual(
      hits.map((h) => `${h.file}:${h.line}: ${h.rule}: ${h.text}`),
      [],
      'product code must run programs from argv arrays, never through a shell',
    );
  });
});

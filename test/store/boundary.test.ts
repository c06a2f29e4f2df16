/**
 * store/ owns all data access (docs/architecture.md, "Data access"): no file
 * of src/ outside src/store/ writes SQL, imports the driver or reaches the
 * connection. A second database engine then needs a second src/store/ and
 * nothing else. ESLint's no-restricted-imports guards the imports as you
 * type; this test guards the SQL text, which no import rule can see.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');
const SRC = path.join(ROOT, 'src');
const STORE = path.join(SRC, 'store');

/** Statement shapes, as this code base writes SQL (upper-case keywords). */
const SQL =
  /\bSELECT\s[^;]*?\bFROM\b|\bINSERT\s+(?:OR\s+\w+\s+)?INTO\b|\bUPDATE\s+\w+\s+SET\b|\bDELETE\s+FROM\b|\bCREATE\s+(?:TABLE|INDEX)\b|\bPRAGMA\s+\w+|\bBEGIN\s+(?:IMMEDIATE|EXCLUSIVE)\b/;
/** Ways to the connection itself: the driver, the store's private handle, or a prepared statement. */
const REACH_IN = /better-sqlite3|store\/(?:db|testing)\.ts|\bstore\.db\b|\.prepare\(|\.pragma\(/;

function tsFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return tsFiles(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

/** The string literals and template texts of a file (comments may name SQL in prose; code may not). */
function literals(source: string): string[] {
  const out: string[] = [];
  const re = /\/\/[^\n]*|\/\*[\s\S]*?\*\/|'(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*"|`(?:\\.|[^`\\])*`/g;
  for (const m of source.matchAll(re)) if (!m[0].startsWith('/')) out.push(m[0]);
  return out;
}

/** `file:line: text` for every SQL-looking literal and every reach-in, outside src/store/. */
function violations(files: { file: string; source: string }[]): string[] {
  const found: string[] = [];
  for (const { file, source } of files) {
    for (const lit of literals(source)) {
      if (!SQL.test(lit)) continue;
      const line = source.slice(0, source.indexOf(lit)).split('\n').length;
      found.push(`${file}:${line}: SQL ${lit.slice(0, 80)}`);
    }
    source.split('\n').forEach((text, i) => {
      if (REACH_IN.test(text)) found.push(`${file}:${i + 1}: ${text.trim()}`);
    });
  }
  return found;
}

const outside = tsFiles(SRC)
  .filter((f) => !f.startsWith(STORE + path.sep))
  .map((f) => ({ file: path.relative(ROOT, f), source: fs.readFileSync(f, 'utf8') }));

describe('store/ is the only owner of data access', () => {
  it('no file of src/ outside src/store/ writes SQL or reaches the connection', () => {
    expect(outside.length).toBeGreaterThan(50);
    expect(violations(outside)).toEqual([]);
  });

  it('the check finds SQL in strings and templates, reach-ins in code, and ignores prose in comments', () => {
    const planted = [
      {
        file: 'src/x/planted.ts',
        source: [
          "import Database from 'better-sqlite3';",
          '// SELECT id FROM messages is fine in a comment',
          '/* UPDATE messages SET state is fine here too */',
          "const a = 'SELECT id FROM messages WHERE id = ?';",
          'const b = `UPDATE reservations SET phone = NULL WHERE id = ${id}`;',
          'const c = "DELETE FROM deliveries";',
          'const d = `INSERT OR IGNORE INTO messages (id) VALUES (@id)`;',
          'const e = app.store.db;',
        ].join('\n'),
      },
    ];
    const found = violations(planted);
    expect(found.filter((v) => v.includes(': SQL '))).toHaveLength(4);
    expect(found.some((v) => v.includes('better-sqlite3'))).toBe(true);
    expect(found.some((v) => v.includes('store.db'))).toBe(true);
    expect(found.some((v) => v.includes('comment') || v.includes('fine here'))).toBe(false);
  });

  it('ESLint forbids the driver and store/ internals everywhere in src/ but src/store/', async () => {
    const eslint = new ESLint({ cwd: ROOT });
    const ruleOf = async (file: string) =>
      ((await eslint.calculateConfigForFile(path.join(ROOT, file))) as { rules?: Record<string, unknown> }).rules?.[
        'no-restricted-imports'
      ];
    const outsideRule = JSON.stringify(await ruleOf('src/http/api.ts'));
    expect(outsideRule).toContain('better-sqlite3');
    expect(outsideRule).toContain('**/store/*');
    expect(JSON.stringify((await ruleOf('src/store/index.ts')) ?? 'off')).not.toContain('better-sqlite3');
  });
});

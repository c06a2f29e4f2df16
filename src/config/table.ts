/** The configuration reference as a Markdown table, from the settings table (README.md embeds it). */
import { SETTINGS } from './settings.ts';

function show(v: unknown): string {
  if (v === null) return '*(unset)*';
  if (Array.isArray(v)) return v.length ? `\`${v.join(',')}\`` : '*(empty)*';
  // Defaults are scalars or arrays (above); JSON keeps anything else readable.
  const text = typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v);
  return `\`${text}\``;
}

/** Markdown rows for every setting: file path, environment variable, default, meaning. */
export function settingsMarkdown(): string {
  const rows = SETTINGS.map((s) => {
    // Machine-dependent defaults are described, not printed.
    const def =
      s.path === 'smtp.hostname'
        ? "*(the machine's host name)*"
        : s.path === 'pipeline.workers'
          ? '*(CPU count)*'
          : show(s.default);
    return `| \`${s.path}\` | \`${s.env}\` | ${def} | ${s.doc.replace(/\|/g, '\\|')} |`;
  });
  return ['| Setting (file) | Environment | Default | Meaning |', '| --- | --- | --- | --- |', ...rows].join('\n');
}

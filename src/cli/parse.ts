/** `ota-inbound parse`: the extraction of one file, in-process (no worker). */
import fsp from 'node:fs/promises';
import type { Config } from '../config/index.ts';
import { parseMessage } from '../parse/index.ts';
import { extract, loadSiteDefinitions, type SiteDefinition } from '../extract/index.ts';
import type { Extraction } from '../extract/types.ts';
import { SHIPPED_SITES_DIR } from '../paths.ts';

let sites: SiteDefinition[] | null = null;

/** Reads and analyses one .eml file; returns the extraction JSON. */
export async function analyzeFile(file: string, cfg: Readonly<Config>): Promise<Extraction> {
  sites ??= loadSiteDefinitions([SHIPPED_SITES_DIR, ...cfg.sitesDirs]);
  const raw = await fsp.readFile(file);
  return extract(await parseMessage(raw), sites).extraction;
}

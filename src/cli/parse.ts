/** `ota-inbound parse`: the extraction of one file, in-process (no worker). */
import fsp from 'node:fs/promises';
import { unauthenticatedReason } from '../auth/index.ts';
import type { Config } from '../config/index.ts';
import { parseMessage } from '../parse/index.ts';
import { extract, loadSiteDefinitions, type SiteDefinition } from '../extract/index.ts';
import type { Extraction } from '../extract/types.ts';
import { SHIPPED_SITES_DIR } from '../paths.ts';

let sites: SiteDefinition[] | null = null;

/** What to do about a site mail that is not authenticated (shown by `parse`; the dashboard says the same). */
const UNAUTHENTICATED_ADVICE =
  'For real mail, forward it unchanged so the site’s DKIM signature survives, or list your forwarder in auth.arcTrustedSealers; for an unsigned local demo mail, run the demo with OTA_INBOUND_AUTH_RESOLVER=none (demo only: it turns sender authentication off).';

export interface Analysis {
  extraction: Extraction;
  /** Sentences for a person (stderr), e.g. why the server will flag this mail; not part of the JSON. */
  notes: string[];
}

/** The `d=` domains of the DKIM-Signature headers in the header block of `raw`. */
function dkimSigningDomains(raw: Buffer): string[] {
  const end = raw.indexOf('\r\n\r\n');
  const head = raw
    .subarray(0, end < 0 ? Math.min(raw.length, 256 * 1024) : end)
    .toString('latin1')
    .replace(/\r?\n[ \t]+/g, ' ');
  const out: string[] = [];
  for (const m of head.matchAll(/^DKIM-Signature:(.*)$/gim)) {
    const d = /(?:^|;)\s*d=([^;\s]+)/i.exec(m[1]!);
    if (d) out.push(d[1]!.toLowerCase());
  }
  return out;
}

const within = (d: string, domain: string) => d === domain.toLowerCase() || d.endsWith(`.${domain.toLowerCase()}`);

/**
 * Notes on sender authentication. `parse` does not check it (no SMTP
 * envelope, no DNS lookups), so a mail that looks fine here can still be
 * "not trusted / needs review" on the server: say so, in one sentence, when
 * the mail names a site: it will be flagged when it carries no DKIM signature
 * of the site's domains, and when the signature it carries does not verify
 * (a local demo copy, a forwarder that rewrote it), which parse cannot see.
 */
function authNotes(extraction: Extraction, raw: Buffer, cfg: Readonly<Config>): string[] {
  const source = extraction.source;
  if (!source) return [];
  const reason = unauthenticatedReason(source);
  if (extraction.reviewReasons.includes(reason))
    return [
      `${reason}: this mail claims to be from ${source} but has no valid DKIM signature of the site, so it is not trusted and needs review. ${UNAUTHENTICATED_ADVICE}`,
    ];
  if (cfg.auth.resolver === 'none') return [];
  const site = sites?.find((s) => s.source === source);
  const domains = site?.dkimDomains ?? [];
  if (domains.length === 0) return [];
  const signed = dkimSigningDomains(raw).filter((d) => domains.some((s) => within(d, s)));
  if (signed.length > 0)
    return [
      `${reason} unless its DKIM signature by ${signed.join(', ')} verifies: parse does not check sender authentication (no DNS lookups here), but a server with auth.resolver=${cfg.auth.resolver} trusts a ${source} mail only when that signature verifies (or a trusted ARC chain records it), and otherwise marks it "not trusted / needs review" with ${reason}. ${UNAUTHENTICATED_ADVICE}`,
    ];
  return [
    `${reason}: this mail claims to be from ${source} but carries no DKIM signature by ${domains.join(' or ')}; parse does not check sender authentication, but a server with auth.resolver=${cfg.auth.resolver} marks it "not trusted / needs review" with ${reason}. ${UNAUTHENTICATED_ADVICE}`,
  ];
}

/** Reads and analyses one .eml file; returns the extraction JSON and notes for a person. */
export async function analyzeFile(file: string, cfg: Readonly<Config>): Promise<Analysis> {
  sites ??= loadSiteDefinitions([SHIPPED_SITES_DIR, ...cfg.sitesDirs]);
  const raw = await fsp.readFile(file);
  const extraction = extract(await parseMessage(raw), sites).extraction;
  return { extraction, notes: authNotes(extraction, raw, cfg) };
}

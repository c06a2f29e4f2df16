/** What a Japanese page may still say in Latin letters, and how the tests find the rest. */
import type { Page } from 'playwright-core';

/**
 * Words that stay as they are in the Japanese page: the product's name, the
 * switch's own label, site names that are written in Latin letters in Japan
 * too, protocol and setting names an operator types or searches for.
 */
const ALLOWED = [
  'OTA_INBOUND_AUTH_RESOLVER=none',
  'auth.arcTrustedSealers',
  'auth.resolver',
  'ota-inbound verify --repair',
  'ota-inbound verify',
  'ota-inbound',
  'docs/sites.md',
  'config/sites',
  'certs/',
  '/api/stores',
  '/readyz',
  '一休.comレストラン',
  'English',
  'Retty',
  'OZmall',
  'OpenTable',
  'Gmail',
  'Outlook',
  'MAIL FROM',
  'RCPT TO',
  'Message-ID',
  'HELO',
  'From',
  'Date',
  'Webhook',
  'DKIM',
  'DMARC',
  'SPF',
  'ARC',
  'TLS',
  'API',
  'HTML',
  'SMTP',
  'DNS',
  'MX',
  'PEM',
  'KB',
  'ID',
  '.eml',
];

/** Visible text of the page (and accessible names) outside `translate="no"` data. */
export async function pageTexts(page: Page): Promise<string[]> {
  return page.evaluate<string[]>(`(() => {
    const out = [];
    const skip = (el) => el.closest('[translate="no"], script, style, noscript');
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) {
      const n = walker.currentNode;
      if (n.parentElement && !skip(n.parentElement) && n.textContent.trim()) out.push(n.textContent.trim());
    }
    for (const el of document.querySelectorAll('[aria-label]')) if (!skip(el)) out.push(el.getAttribute('aria-label'));
    out.push(document.title);
    return out;
  })()`);
}

/** Latin words left in Japanese text once the allowed words are taken out. */
export function englishLeft(texts: string[]): string[] {
  const left: string[] = [];
  for (const text of texts) {
    let rest = text;
    for (const a of ALLOWED) rest = rest.split(a).join(' ');
    for (const m of rest.matchAll(/[A-Za-z]{2,}/g)) left.push(`${m[0]} (in "${text.slice(0, 80)}")`);
  }
  return left;
}

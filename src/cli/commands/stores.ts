/**
 * `ota-inbound stores …`: the store registry from the command line (docs/stores.md).
 * Works on the database directly, so it also works while the server runs: the
 * server reads the registry at every RCPT TO, and a change applies to the next one.
 */
import type { Command } from 'commander';
import { config, fail } from '../common.ts';

type StoreJson = ReturnType<(typeof import('../../http/stores.ts'))['storeJson']>;

const SITE_STATE_TEXT = { unconfigured: 'not set up', configured: 'set up', receiving: 'receiving' } as const;

function printStore(s: StoreJson, detail: boolean): void {
  const out = process.stdout;
  out.write(`${s.id}\t${s.status}\t${s.address}\t${s.name}\n`);
  if (!detail) return;
  for (const p of s.previousAddresses) out.write(`  previous ${p.address} delivers until ${p.validUntil ?? '-'}\n`);
  if (s.revokedAt) out.write(`  revoked at ${s.revokedAt}\n`);
  for (const site of s.sites) {
    const parts = [`  ${site.site.padEnd(10)} ${SITE_STATE_TEXT[site.state]}`];
    if (site.lastMailAt) parts.push(`last mail ${site.lastMailAt}`);
    if (site.lastReservationAt) parts.push(`last reservation ${site.lastReservationAt}`);
    if (site.verification)
      parts.push(`verification waiting: code ${site.verification.code ?? '-'} link ${site.verification.link ?? '-'}`);
    out.write(`${parts.join(', ')}\n`);
  }
  if (s.verification)
    out.write(
      `  forwarding confirmation waiting (spool id ${s.verification.messageId}): code ${s.verification.code ?? '-'} link ${s.verification.link ?? '-'}\n`,
    );
}

/** Opens the registry, runs `fn`, prints the store(s) it returns, closes. Registry errors exit 1 with their sentence. */
async function withRegistry(
  opts: { json?: boolean },
  fn: (r: import('../../store/index.ts').StoreRegistry) => unknown,
  detail = true,
): Promise<void> {
  const cfg = config();
  const [{ Store, StoreRegistry, RegistryError }, { databaseFile }, { storeJson }, { loadSiteDefinitions }, paths] =
    await Promise.all([
      import('../../store/index.ts'),
      import('../../app.ts'),
      import('../../http/stores.ts'),
      import('../../extract/index.ts'),
      import('../../paths.ts'),
    ]);
  const store = new Store(databaseFile(cfg));
  try {
    const registry = store.registry({ graceDays: cfg.registry.graceDays });
    const sites = loadSiteDefinitions([paths.SHIPPED_SITES_DIR, ...cfg.sitesDirs]).map((d) => d.source);
    let result: unknown;
    try {
      result = fn(registry);
    } catch (err) {
      if (err instanceof RegistryError) fail(`${err.message} (${err.code})`);
      throw err;
    }
    const deps = { registry, domain: cfg.registry.domain, sites };
    const many = Array.isArray(result);
    const list = (many ? result : [result]) as Parameters<typeof storeJson>[0][];
    const stores = list.map((s) => storeJson(s, deps));
    if (opts.json) process.stdout.write(`${JSON.stringify(many ? { stores } : stores[0], null, 2)}\n`);
    else if (stores.length === 0) process.stdout.write('no stores registered (ota-inbound stores create NAME)\n');
    else for (const s of stores) printStore(s, detail);
  } finally {
    store.close();
  }
}

/** Registers the `stores` command and its subcommands on the program. */
export function register(program: Command): void {
  const stores = program
    .command('stores')
    .description('the store registry: intake addresses per restaurant (list, create, rename, rotate, revoke)');
  stores
    .command('list')
    .description('every registered store: id, status, intake address, name')
    .option('--json', 'the API JSON ({"stores": [...]})')
    .action((opts: { json?: boolean }) => withRegistry(opts, (r) => r.list(), false));
  stores
    .command('show')
    .description('one store: addresses, and per site its status, last mail, last reservation, waiting verification')
    .argument('<id>', 'store id')
    .option('--json', 'the API JSON')
    .action((id: string, opts: { json?: boolean }) =>
      withRegistry(opts, (r) => r.get(id) ?? fail(`no store ${JSON.stringify(id)} (STORE_NOT_FOUND)`)),
    );
  stores
    .command('create')
    .description('register a store; prints its new intake address')
    .argument('<name>', 'display name, e.g. "さくら食堂 銀座店"')
    .option('--id <id>', 'store id (default: from the name, or random)')
    .option('--json', 'the API JSON')
    .action((name: string, opts: { id?: string; json?: boolean }) =>
      withRegistry(opts, (r) => r.create({ name, id: opts.id })),
    );
  stores
    .command('rename')
    .description('change the display name (the id and addresses stay)')
    .argument('<id>', 'store id')
    .argument('<name>', 'new name')
    .option('--json', 'the API JSON')
    .action((id: string, name: string, opts: { json?: boolean }) => withRegistry(opts, (r) => r.rename(id, name)));
  stores
    .command('rotate')
    .description('issue a new intake address; the previous one delivers for registry.graceDays more')
    .argument('<id>', 'store id')
    .option('--json', 'the API JSON')
    .action((id: string, opts: { json?: boolean }) => withRegistry(opts, (r) => r.rotate(id)));
  stores
    .command('revoke')
    .description('stop every intake address of the store now (registry.inactiveAddress decides quarantine or 550)')
    .argument('<id>', 'store id')
    .option('--json', 'the API JSON')
    .action((id: string, opts: { json?: boolean }) => withRegistry(opts, (r) => r.revoke(id)));
  stores
    .command('declare')
    .description("mark a site's forwarding as set up for the store before any mail arrived (--undo takes it back)")
    .argument('<id>', 'store id')
    .argument('<site>', 'site id, e.g. tabelog')
    .option('--undo', 'take the declaration back')
    .option('--json', 'the API JSON')
    .action((id: string, site: string, opts: { undo?: boolean; json?: boolean }) =>
      withRegistry(opts, (r) => r.declareSite(id, site, !opts.undo)),
    );
}

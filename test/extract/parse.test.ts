import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  decodeJisEscapes,
  findInlineForward,
  htmlToText,
  normalizeText,
  parseMessage,
  parseQuotedAddress,
  MAX_TEXT_CHARS,
} from '../../src/parse/index.ts';

const fixture = (path: string): Buffer => readFileSync(fileURLToPath(new URL(`../fixtures/${path}`, import.meta.url)));

function mail(headers: string[], body: string | Buffer): Buffer {
  return Buffer.concat([
    Buffer.from(headers.join('\r\n') + '\r\n\r\n'),
    Buffer.isBuffer(body) ? body : Buffer.from(body),
  ]);
}

describe('charsets', () => {
  it.each([
    ['ISO-2022-JP with ①, ㈱ and 髙 (NEC/IBM extensions)', 'jalan/new.eml', '髙橋 一郎'],
    ['ISO-2022-JP without a charset label', 'jalan/change.eml', '髙橋 一郎'],
    ['Shift_JIS, base64', 'hotpepper/new.eml', '伊藤 翔太'],
    ['EUC-JP, base64', 'hitosara/new.eml', '森 千尋'],
    ['UTF-8, quoted-printable', 'gurunavi/new.eml', '渡辺 直樹'],
    ['UTF-8, base64', 'retty/new.eml', '松本 大輔'],
  ])('decodes %s', async (_label, path, name) => {
    const parsed = await parseMessage(fixture(path));
    expect(parsed.text).toContain(name);
    expect(parsed.text).not.toContain('\u001b');
    expect(parsed.text).not.toContain('\ufffd');
  });

  it('keeps ①/㈱ as NFKC reads them and 髙 as is', async () => {
    const parsed = await parseMessage(fixture('jalan/new.eml'));
    expect(parsed.text).toContain('コース1 季節の会席');
    expect(parsed.text).toContain('(株)さくらフーズ');
  });

  it('decodes an unlabelled ISO-2022-JP body itself and says so', async () => {
    const parsed = await parseMessage(fixture('jalan/change.eml'));
    expect(parsed.warnings).toContain('jis-escapes-decoded');
    expect(parsed.text).toContain('予約内容が変更されました');
  });

  it('decodes a Subject written in raw JIS instead of RFC 2047', async () => {
    const subject = Buffer.concat([Buffer.from('Subject: '), Buffer.from('\u001b$B?75,M=Ls\u001b(B', 'latin1')]);
    const raw = Buffer.concat([subject, Buffer.from('\r\nFrom: a@b.example\r\n\r\nbody\r\n')]);
    expect((await parseMessage(raw)).subject).toBe('新規予約');
  });

  it('leaves already-decoded text alone', () => {
    expect(decodeJisEscapes('予約 \u001b$B')).toBe('予約 \u001b$B');
  });
});

describe('normalisation', () => {
  it('folds full-width digits, colons, wave dashes and spaces', () => {
    expect(normalizeText('人数：２名　１９：００〜２１：３０')).toBe('人数:2名 19:00~21:30');
  });

  it('caps the text it keeps', () => {
    expect(normalizeText('a'.repeat(MAX_TEXT_CHARS + 10)).length).toBe(MAX_TEXT_CHARS);
  });

  it('stays linear on a long run of spaces that does not end a line (regression: /[ \\t]+$/m)', () => {
    const hostile = ' '.repeat(200_000) + 'x';
    const started = process.hrtime.bigint();
    normalizeText(hostile);
    expect(Number(process.hrtime.bigint() - started) / 1e6).toBeLessThan(1_000);
  });
});

describe('HTML to text', () => {
  it('writes table rows as "label: value" lines', () => {
    const html = '<table><tr><th>人数</th><td>2名</td></tr><tr><td>お名前</td><td>山田 様</td></tr></table>';
    expect(htmlToText(html)).toBe('人数: 2名\nお名前: 山田 様');
  });

  it('keeps rows of a data table nested in a layout table', () => {
    const html = '<table><tr><td><h2>T</h2><table><tr><th>予約番号</th><td>A1</td></tr></table></td></tr></table>';
    expect(htmlToText(html).split('\n')).toContain('予約番号: A1');
  });

  it('indents <br> lines inside a value cell so they stay part of the value (regression: ikyu notes)', () => {
    expect(htmlToText('<table><tr><th>備考</th><td>一行目<br>二行目</td></tr></table>')).toBe('備考: 一行目\n  二行目');
  });

  it('drops script, style and comments, decodes entities and keeps link URLs', () => {
    const html =
      '<style>p{}</style><script>x<y</script><!-- c --><p>A&amp;B&nbsp;&#x3042;&#12354;</p>' +
      '<a href="https://owner.example/d?bookingId=net:123&amp;x=1">詳細</a>';
    expect(htmlToText(html)).toBe('A&B ああ\n詳細 (https://owner.example/d?bookingId=net:123&x=1)');
  });

  it('converts 5 MB of single-line hostile HTML in linear time', () => {
    const hostile = '<td'.repeat(500_000) + '&'.repeat(1_000_000) + '<'.repeat(1_000_000);
    const started = process.hrtime.bigint();
    htmlToText(hostile);
    expect(Number(process.hrtime.bigint() - started) / 1e6).toBeLessThan(2_000);
  });
});

describe('forwards', () => {
  it('unwraps a Gmail inline forward: inner From, Subject and Date count', async () => {
    const parsed = await parseMessage(fixture('generic/forward-gmail-inline.eml'));
    expect(parsed.forwarded).toBe(true);
    expect(parsed.forwardKind).toBe('inline');
    expect(parsed.from).toEqual({ address: 'noreply-rsv@tabelog.com', name: '食べログ' });
    expect(parsed.outerFrom?.address).toBe('tencho@sakura-shokudo.example');
    expect(parsed.subject).toBe('【新規予約】中村 美咲様 11/09 20:30 4名【食べログネット予約】');
    expect(parsed.date?.toISOString()).toBe('2026-11-03T03:00:00.000Z');
    expect(parsed.text.startsWith('さくら食堂 銀座店 ご担当者様')).toBe(true);
  });

  it('unwraps an Outlook 差出人/送信日時/件名 block', async () => {
    const parsed = await parseMessage(fixture('generic/forward-outlook.eml'));
    expect(parsed.from?.address).toBe('yoyaku@hotpepper.jp');
    expect(parsed.subject).toBe('【ホットペッパーグルメ】ネット予約が入りました');
    expect(parsed.date?.toISOString()).toBe('2026-09-02T01:15:00.000Z');
  });

  it('parses a message/rfc822 attachment as the forwarded message', async () => {
    const parsed = await parseMessage(fixture('generic/forward-attached.eml'));
    expect(parsed.forwardKind).toBe('attachment');
    expect(parsed.innerMessageId).toBe('<rt00920001.new@mailer.retty.me>');
    expect(parsed.messageId).toBe('<fwd-attach-0001@sakura-shokudo.example>');
    expect(parsed.from?.address).toBe('reserve@retty.me');
    expect(parsed.text).toContain('[予約番号] RT00920001');
  });

  it('recognises the separators of the common clients', () => {
    for (const separator of [
      '---------- Forwarded message ---------',
      '-------- Original Message --------',
      '-----Original Message-----',
      '-------- 転送メッセージ --------',
      'Begin forwarded message:',
    ]) {
      const text = `転送します\n\n${separator}\nFrom: X <x@site.example>\nSubject: S\n\n本文`;
      expect(findInlineForward(text), separator).toMatchObject({ subject: 'S', body: '本文' });
    }
  });

  it('unwraps "> " quoted forwards', () => {
    const text = '-----Original Message-----\n> From: x@site.example\n> Subject: S\n>\n> 人数: 2名';
    expect(findInlineForward(text)?.body).toBe('人数: 2名');
  });

  it('reads the quoted From forms of mail clients', () => {
    expect(parseQuotedAddress('"食べログ" <Info@Tabelog.com>')).toEqual({
      address: 'info@tabelog.com',
      name: '食べログ',
    });
    expect(parseQuotedAddress('食べログ [mailto:info@tabelog.com]')).toEqual({
      address: 'info@tabelog.com',
      name: '食べログ',
    });
    expect(parseQuotedAddress('info@tabelog.com')).toEqual({ address: 'info@tabelog.com', name: '' });
  });

  it('does not take a body without a header block for a forward', () => {
    expect(findInlineForward('人数: 2名\nFrom: 東京駅から徒歩5分')).toBeNull();
  });
});

describe('body choice', () => {
  it('reads the HTML part when the text part is a "view as HTML" placeholder', async () => {
    const parsed = await parseMessage(fixture('generic/html-placeholder-text.eml'));
    expect(parsed.htmlDerived).toBe(true);
    expect(parsed.text).toContain('予約番号: IK-5540-1200');
  });

  it('prefers text/plain in multipart/alternative', async () => {
    const parsed = await parseMessage(fixture('ikyu/change.eml'));
    expect(parsed.htmlDerived).toBe(false);
    expect(parsed.text).toContain('【変更前】');
  });

  it('returns empty text, not an error, for a message without a body', async () => {
    const parsed = await parseMessage(mail(['From: a@b.example', 'Subject: x'], ''));
    expect(parsed.text).toBe('');
    expect(parsed.forwarded).toBe(false);
  });
});

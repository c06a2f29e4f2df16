/**
 * Realistic 食べログ-style reservation mails for delivery and API tests
 * (UTF-8, 8bit; the labels and the booking id URL as the site writes them).
 */

export interface TabelogMail {
  kind?: 'new' | 'change' | 'cancel';
  bookingId: string;
  name?: string;
  date?: string;
  time?: string;
  party?: number;
  messageId?: string;
  /** RFC 5322 Date header; defaults to a fixed instant so ordering is explicit. */
  sentAt?: string;
  store?: string;
  /** null leaves the phone line out (the reservation then needs review). */
  phone?: string | null;
}

const SUBJECTS = { new: '【新規予約】', change: '【予約変更】', cancel: '【予約キャンセル】' } as const;

function encodeHeader(s: string): string {
  return `=?UTF-8?B?${Buffer.from(s, 'utf8').toString('base64')}?=`;
}

/** One mail as raw bytes (Buffer: the body is UTF-8 8bit). */
export function tabelogMail(m: TabelogMail): Buffer {
  const kind = m.kind ?? 'new';
  const name = m.name ?? '山田 太郎';
  const body = [
    `${name} 様からのネット予約が${kind === 'cancel' ? 'キャンセルされました' : kind === 'change' ? '変更されました' : '入りました'}。`,
    '',
    `お名前 ：${name} 様`,
    `日付 ：${m.date ?? '2026/12/20'}`,
    `来店時刻 ：${m.time ?? '19:00'}`,
    `人数 ：${m.party ?? 4}名`,
    'コース ：季節のおまかせコース',
    ...(m.phone === null ? [] : [`電話番号 ：${m.phone ?? '090-1234-5678'}`]),
    '',
    '予約の詳細は以下のURLからご確認ください。',
    `https://owner.tabelog.com/owner_rst/net_reservations/detail?bookingId=net:${m.bookingId}`,
    '',
    '食べログネット予約',
  ].join('\r\n');
  const headers = [
    `From: ${encodeHeader('食べログ')} <info@tabelog.com>`,
    `To: ${m.store ?? 'shibuya'}@intake.example`,
    `Subject: ${encodeHeader(`${SUBJECTS[kind]}${name}様 ${m.date ?? '2026/12/20'} ${m.time ?? '19:00'} ${m.party ?? 4}名【食べログネット予約】`)}`,
    `Date: ${m.sentAt ?? 'Fri, 20 Nov 2026 10:00:00 +0900'}`,
    `Message-ID: <${m.messageId ?? `${kind}-${m.bookingId}-${Math.random().toString(36).slice(2)}@tabelog.com`}>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=UTF-8',
    'Content-Transfer-Encoding: 8bit',
  ].join('\r\n');
  return Buffer.from(`${headers}\r\n\r\n${body}\r\n`, 'utf8');
}

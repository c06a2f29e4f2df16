/**
 * Builds realistic 食べログ-style notification mails with a real MIME encoder
 * (nodemailer's MailComposer), for tests that need variants of one booking:
 * the same reservation id with another event, Date or Message-ID.
 */
import MailComposer from 'nodemailer/lib/mail-composer/index.js';

export interface TabelogMail {
  event: 'new' | 'change' | 'cancel';
  bookingId: string;
  /** RFC 2822 Date of the notification. */
  date: Date;
  messageId: string;
  visit?: string; // e.g. '12/20(日)'
  time?: string; // e.g. '19:00'
  party?: string; // e.g. '4名'
  name?: string;
  phone?: string;
}

const SUBJECT: Record<TabelogMail['event'], string> = {
  new: '【新規予約】',
  change: '【予約変更】',
  cancel: '【予約キャンセル】',
};

export async function tabelogMail(m: TabelogMail): Promise<Buffer> {
  const name = m.name ?? '山田 太郎';
  const body = [
    'さくら食堂 銀座店 ご担当者様',
    '',
    m.event === 'cancel'
      ? '予約がキャンセルされましたのでお知らせします。'
      : m.event === 'change'
        ? '予約内容が変更されましたのでお知らせします。'
        : '新規のネット予約が入りましたのでお知らせします。',
    '',
    '━━━━━━━━━━━━━━━━━━━━━━━━',
    `お名前 ：${name} 様`,
    `電話番号 ：${m.phone ?? '090-1234-5678'}`,
    `日付 ：${m.visit ?? '12/20(日)'}`,
    `来店時刻 ：${m.time ?? '19:00'}`,
    `人数 ：${m.party ?? '4名'}`,
    '━━━━━━━━━━━━━━━━━━━━━━━━',
    '',
    '▼予約の詳細は店舗管理画面でご確認ください',
    `https://owner.tabelog.com/rsv/booking/detail?bookingId=net:${m.bookingId}`,
    '',
  ].join('\n');
  const composer = new MailComposer({
    from: { name: '食べログ', address: 'noreply-rsv@tabelog.com' },
    to: 'sakura-ginza@intake.example',
    subject: `${SUBJECT[m.event]}${name}様 ${m.visit?.slice(0, 5) ?? '12/20'} ${m.time ?? '19:00'} ${m.party ?? '4名'}【食べログネット予約】`,
    date: m.date,
    messageId: m.messageId,
    text: body,
    textEncoding: 'base64',
  });
  return composer.compile().build();
}

// Dosewise browser journey: a resident books a vaccination, on a phone (zh-CN) and on a
// desktop (switched to English), in Debian's headless Chromium driven by playwright-core.
//
// Usage: node tests/browser/journey.mjs BASE_URL SCREENSHOT_DIR
//   e.g. node tests/browser/journey.mjs http://127.0.0.1:8123 /tmp/bj-shots
//
// The server must be fresh demo data (`dosewise serve --demo` on an empty database): the two
// runs book as two fixed residents, and a second booking by the same resident is refused.
// CHROMIUM=/path/to/chromium overrides /usr/bin/chromium. Nothing is ever downloaded.
// Prints one line per step and ends with `browser journey: N passed, N failed`; exit 1 on failure.

import { execFileSync } from 'node:child_process';
import { PHONE_ZH, fail, harness, short } from './harness.mjs';

const MAX_NEXT_DAYS = 7;

const h = harness({ title: 'browser journey', usage: 'BASE_URL SCREENSHOT_DIR' });
const BASE = h.base;
const current = h.current;

// ---- resident ID numbers (GB 11643, ISO 7064 MOD 11-2 check character) ----------------------

const WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK_CHARS = '10X98765432';

function checkChar(first17) {
  if (!/^\d{17}$/.test(first17)) throw new Error(`bad ID prefix ${first17}`);
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += Number(first17[i]) * WEIGHTS[i];
  return CHECK_CHARS[sum % 11];
}
const validId = (first17) => first17 + checkChar(first17);
/** The same 17 digits with the first digit 0-9 that is NOT the right check character. */
function wrongId(first17) {
  const right = checkChar(first17);
  const wrong = [...'0123456789'].find((d) => d !== right);
  return first17 + wrong;
}

const RUNS = [
  {
    name: 'phone',
    context: { ...PHONE_ZH, deviceScaleFactor: 2, hasTouch: true },
    lang: 'zh-CN',
    residentName: '王小明',
    first17: '11010519900101001', // born 1990-01-01
  },
  {
    name: 'desktop',
    context: { viewport: { width: 1280, height: 800 }, locale: 'en-US' },
    lang: 'en',
    residentName: 'Wang Xiaoming',
    first17: '11010519900101002', // born 1990-01-01, another resident
  },
];
for (const r of RUNS) {
  r.goodId = validId(r.first17);
  r.badId = wrongId(r.first17);
  if (r.goodId === r.badId || checkChar(r.badId.slice(0, 17)) === r.badId[17]) {
    throw new Error('ID generator self-check failed');
  }
}
// No page may ever show any of these in full.
const SECRET_IDS = RUNS.flatMap((r) => [r.goodId, r.badId]);

const PHONE = '13800138000';
const EMAIL = 'test@example.com';

// ---- page checks -----------------------------------------------------------------------------

/** Checks every page must pass: language, masked ID numbers, no sideways scroll on the phone. */
async function checkPage(run, page, { lang = run.lang } = {}) {
  const facts = await page.evaluate(() => ({
    lang: document.documentElement.lang,
    text: document.documentElement.textContent || '',
    visible: document.body ? document.body.innerText : '',
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
  }));
  if (facts.lang !== lang) fail(`<html lang> is "${facts.lang}", expected "${lang}"`);
  for (const id of SECRET_IDS) {
    if (facts.text.includes(id) || facts.visible.includes(id)) {
      fail(`page text shows a full ID number (${id.slice(0, 4)}…${id.slice(-4)}); only the masked form may appear`);
    }
  }
  const masked = facts.visible.match(/\*{6,}[0-9X]{4}/g) || [];
  for (const m of masked) {
    if (!/^\*{14}[0-9X]{4}$/.test(m)) fail(`ID masked wrongly: "${m}"`);
  }
  if (run.name === 'phone' && facts.scrollWidth > facts.innerWidth + 1) {
    const wide = await page.evaluate(() => {
      const w = window.innerWidth;
      const out = [];
      for (const el of document.querySelectorAll('body *')) {
        const r = el.getBoundingClientRect();
        if (r.right > w + 1 && r.width > 0) {
          out.push(`${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}${el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\s+/).join('.') : ''} (right=${Math.round(r.right)})`);
        }
        if (out.length >= 3) break;
      }
      return out.join(', ');
    });
    fail(`horizontal scroll on the phone: scrollWidth ${facts.scrollWidth} > innerWidth ${facts.innerWidth}; too wide: ${wide || '?'}`);
  }
  return facts;
}

async function shot(run, page, n) {
  return h.shot(page, `${run.name}-${n}`);
}

/** Tap (phone) or click (desktop) something that loads a new page; returns the document response. */
async function follow(run, page, locator) {
  await locator.scrollIntoViewIfNeeded();
  const href = await locator.getAttribute('href').catch(() => null);
  current.target = href ? new URL(href, page.url()).href : `${page.url()} (form submit)`;
  const nav = page.waitForNavigation({ waitUntil: 'load', timeout: 15_000 });
  if (run.context.hasTouch) await locator.tap();
  else await locator.click();
  const res = await nav;
  return res;
}

function expectOk(res, what) {
  if (!res) fail(`${what}: no document response`);
  if (res.status() >= 400) fail(`${what}: HTTP ${res.status()}`);
}

function step(name) {
  h.step(current.run, name);
}

// ---- the journey -----------------------------------------------------------------------------

async function journey(run) {
  const { context, page, problems } = await h.open(run.name, run.context);
  const { badLoads } = problems;
  const noBadLoads = () => {
    if (badLoads.length) fail(`subresource failed to load: ${badLoads.join('; ')}`);
  };

  // a. home
  step('1-home');
  current.target = `${BASE}/`;
  const homeRes = await page.goto(`${BASE}/`, { waitUntil: 'load' });
  expectOk(homeRes, 'home');
  let langNote = '';
  if (run.name === 'desktop') {
    // Switch to English with the header's language link. An en-US browser may already get
    // English from Accept-Language; then go to 中文 and back so the switch is still exercised.
    const header = page.locator('header');
    let english = header.getByRole('link', { name: 'English', exact: true });
    if ((await english.count()) === 0) {
      const startLang = await page.evaluate(() => document.documentElement.lang);
      if (startLang !== 'en') fail(`no "English" link in the header and page lang is "${startLang}"`);
      const chinese = header.getByRole('link', { name: '中文', exact: true });
      if ((await chinese.count()) !== 1) fail('page is English by Accept-Language but has no "中文" switch link');
      expectOk(await follow(run, page, chinese), 'switch to 中文');
      await checkPage(run, page, { lang: 'zh-CN' });
      english = header.getByRole('link', { name: 'English', exact: true });
      if ((await english.count()) !== 1) fail('no "English" link in the header after switching to 中文');
      langNote = 'en via Accept-Language, switched 中文 → English; ';
    } else {
      langNote = 'switched to English; ';
    }
    expectOk(await follow(run, page, english.first()), 'switch to English');
    if (new URL(page.url()).pathname !== '/') fail(`language switch did not come back to / (at ${page.url()})`);
  }
  await checkPage(run, page);
  noBadLoads();
  const towns = page.locator('a[href^="/towns/"]');
  const townCount = await towns.count();
  if (townCount === 0) fail('no town tiles (a[href^="/towns/"]) on the home page — demo data missing?');
  await shot(run, page, '1-home');
  h.say(run.name, '1-home', `${langNote}${townCount} town tile(s), lang=${run.lang}`);

  // b. town
  step('2-town');
  const townName = (await towns.first().locator('strong').textContent().catch(() => null)) ?? '?';
  expectOk(await follow(run, page, towns.first()), 'town page');
  if (!/\/towns\/\d+/.test(page.url())) fail('did not land on a town page');
  await checkPage(run, page);
  const sites = page.locator('a[href^="/sites/"]');
  if ((await sites.count()) === 0) fail('no site links (a[href^="/sites/"]) on the town page');
  await shot(run, page, '2-town');
  h.say(run.name, '2-town', `${townName.trim()}: ${await sites.count()} site link(s)`);

  // c. site, paging forward until a bookable slot appears
  step('3-site');
  const siteName = ((await sites.first().textContent()) || '?').trim();
  expectOk(await follow(run, page, sites.first()), 'site page');
  await checkPage(run, page);
  const bookable = async () =>
    page.evaluate(() => [...document.querySelectorAll('a[href]')].filter((a) => /\/slots\/\d+\/book/.test(a.getAttribute('href'))).length);
  let nextDays = 0;
  while ((await bookable()) === 0) {
    if (nextDays >= MAX_NEXT_DAYS) fail(`no bookable slot within ${MAX_NEXT_DAYS} "next day" clicks`);
    const next = page.locator('a[rel=next]');
    if ((await next.count()) === 0) fail(`no bookable slot and no "next day" link (after ${nextDays} clicks)`);
    expectOk(await follow(run, page, next.first()), 'next day');
    nextDays += 1;
    await checkPage(run, page);
  }
  const day = ((await page.locator('.day').first().textContent().catch(() => '')) || '').trim();
  await shot(run, page, '3-site');
  h.say(run.name, '3-site', `${siteName}, ${day || 'day ?'} (${nextDays} next-day click(s)), ${await bookable()} bookable slot(s)`);

  // d. booking form
  step('4-form');
  const bookHref = await page.evaluate(() =>
    [...document.querySelectorAll('a[href]')].map((a) => a.getAttribute('href')).find((h) => /\/slots\/\d+\/book/.test(h)));
  const firstBook = page.locator(`a[href="${bookHref}"]`).first();
  expectOk(await follow(run, page, firstBook), 'booking form');
  if (!/\/slots\/\d+\/book$/.test(new URL(page.url()).pathname)) fail(`expected the booking form, at ${page.url()}`);
  await checkPage(run, page);
  const form = page.locator('form[action$="/book"]');
  if ((await form.count()) !== 1) fail('no booking form (form[action$="/book"])');
  for (const f of ['#name', '#id_number', '#phone', '#email']) {
    if ((await form.locator(f).count()) !== 1) fail(`booking form lacks ${f}`);
  }
  const refusalNow = page.locator('.card.alert[role=alert]');
  if ((await refusalNow.count()) > 0) fail(`form shows a refusal before submitting: ${(await refusalNow.first().innerText()).trim()}`);
  await shot(run, page, '4-form');
  h.say(run.name, '4-form', `${bookHref}`);

  // e. wrong check digit
  step('5-error');
  await form.locator('#name').fill(run.residentName);
  await form.locator('#id_number').fill(run.badId);
  await form.locator('#phone').fill(PHONE);
  await form.locator('#email').fill(EMAIL);
  const badRes = await follow(run, page, form.locator('button[type=submit]'));
  if (!badRes) fail('no response to the form submission');
  if (badRes.status() >= 500) fail(`HTTP ${badRes.status()} for a wrong check digit`);
  const idError = page.locator('#id_number-error');
  if ((await idError.count()) !== 1) fail(`no #id_number-error for ID with a wrong check digit (HTTP ${badRes.status()})`);
  if (!(await idError.isVisible())) fail('#id_number-error is not visible');
  const errText = (await idError.innerText()).trim();
  const kept = {
    name: await page.locator('#name').inputValue(),
    phone: await page.locator('#phone').inputValue(),
    email: await page.locator('#email').inputValue(),
  };
  if (kept.name !== run.residentName) fail(`name field not kept: "${kept.name}" instead of "${run.residentName}"`);
  if (kept.phone !== PHONE) fail(`phone field not kept: "${kept.phone}"`);
  if (kept.email !== EMAIL) fail(`email field not kept: "${kept.email}"`);
  if ((await page.locator('#id_number').getAttribute('aria-invalid')) !== 'true') fail('#id_number is not marked aria-invalid');
  for (const other of ['#name-error', '#phone-error', '#email-error']) {
    if ((await page.locator(other).count()) > 0) fail(`unexpected ${other}: ${(await page.locator(other).innerText()).trim()}`);
  }
  await checkPage(run, page);
  await shot(run, page, '5-error');
  h.say(run.name, '5-error', `HTTP ${badRes.status()}, "${errText}", fields kept`);

  // f. fix the ID number and book
  step('6-confirmed');
  await page.locator('#id_number').fill(run.goodId);
  const okRes = await follow(run, page, page.locator('form[action$="/book"] button[type=submit]'));
  if (!okRes) fail('no response to the booking');
  if (okRes.status() >= 500) fail(`booking: HTTP ${okRes.status()}`);
  await page
    .waitForSelector('[data-testid=booking-code], .card.alert[role=alert], #error-summary', { timeout: 10_000 })
    .catch(() => {});
  if ((await page.locator('[data-testid=booking-code]').count()) === 0) {
    const why = await page.locator('.card.alert[role=alert], #error-summary').first().innerText({ timeout: 1000 }).catch(() => 'no message');
    const hint = okRes.status() === 409 ? ' (refused: start the server on a fresh demo database, each run books a fixed resident)' : '';
    fail(`booking not confirmed, HTTP ${okRes.status()}: ${why.replace(/\s+/g, ' ').trim()}${hint}`);
  }
  expectOk(okRes, 'booking');
  const code = ((await page.locator('[data-testid=booking-code]').innerText()) || '').trim();
  if (!/^[0-9A-Z]{4}-[0-9A-Z]{4}$/.test(code)) fail(`booking code "${code}" is not XXXX-XXXX`);
  const qr = page.locator('.qr svg');
  if ((await qr.count()) === 0) fail('no QR code (.qr svg)');
  if (!(await qr.first().isVisible())) fail('QR code is not visible');
  const box = await qr.first().boundingBox();
  if (!box || box.width < 1 || box.height < 1) fail(`QR code has no size (${JSON.stringify(box)})`);
  const facts = await checkPage(run, page);
  const masked = '*'.repeat(14) + run.goodId.slice(-4);
  if (!facts.visible.includes(masked)) fail(`confirmation does not show the masked ID ${masked}`);
  const html = await page.content();
  if (html.includes(run.goodId)) fail('the full ID number is in the confirmation page source');
  noBadLoads();
  await shot(run, page, '6-confirmed');
  h.say(run.name, '6-confirmed', `code ${code}, QR ${Math.round(box.width)}×${Math.round(box.height)} px, ID shown as ${masked}`);

  await context.close();
}

// ---- main ------------------------------------------------------------------------------------

h.run(async () => {
  try {
    const zhFonts = execFileSync('fc-list', [':lang=zh', 'family'], { encoding: 'utf8', timeout: 5000 }).trim();
    if (!zhFonts) {
      console.log('warning: no Chinese font installed (fc-list :lang=zh is empty): zh-CN screenshots show boxes; apt-get install fonts-noto-cjk');
    }
  } catch {}
  for (const run of RUNS) {
    await journey(run);
    h.pass();
  }
});

// Dosewise clinic desk journey in Debian's headless Chromium (playwright-core): a nurse logs in,
// checks a resident in by booking code, screens them, records the dose and sees them under
// observation. Two runs: a tablet in Chinese that opens the resident's QR link, and a desk
// browser in English that types the code.
//
// Usage: node tests/browser/clinic.mjs BASE_URL SCREENSHOT_DIR JSON
//   JSON: {"username": "...", "password": "...", "runs": [{"code": "...", "last4": "...",
//          "name": "..."}, {...}]} (made by tests/api/clinic.rs)
// Prints one line per step and ends with `clinic journey: N passed, N failed`; exit 1 on failure.

import { fail, harness, login, submit } from './harness.mjs';

const h = harness({ title: 'clinic journey', usage: 'BASE_URL SCREENSHOT_DIR JSON', shots: 'clinic-' });
const input = JSON.parse(h.args[0]);

const RUNS = [
  {
    name: 'tablet',
    context: { viewport: { width: 820, height: 1180 }, deviceScaleFactor: 1, isMobile: true, hasTouch: true, locale: 'zh-CN' },
    lang: 'zh-CN',
    via: 'qr',
    ...input.runs[0],
  },
  {
    name: 'desk',
    context: { viewport: { width: 1280, height: 900 }, locale: 'en-US' },
    lang: 'en',
    via: 'typed',
    ...input.runs[1],
  },
];

/** Language, no full ID number, and no sideways scrolling on the tablet. */
async function checkPage(run, page) {
  const facts = await page.evaluate(() => ({
    lang: document.documentElement.lang,
    text: document.body.innerText,
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
  }));
  if (facts.lang !== run.lang) fail(`<html lang> is "${facts.lang}", expected "${run.lang}"`);
  if (/\b\d{17}[\dX]\b/.test(facts.text)) fail('a full ID number is shown');
  if (facts.scrollWidth > facts.innerWidth + 1) fail(`horizontal scroll: ${facts.scrollWidth} > ${facts.innerWidth}`);
  return facts;
}

async function shot(run, page, n) {
  await h.shot(page, `${run.name}-${n}`);
}

/** Submit a form: a tap on a touch screen, else a click. */
function press(run, page, locator) {
  return submit(page, locator, { tap: !!run.context.hasTouch });
}

async function journey(run) {
  const { context, page, problems } = await h.open(run.name, run.context);
  const { badLoads, scriptErrors } = problems;

  // 1. Log in: from the QR link (which asks for a login first) or from the login page.
  h.step(run.name, '1-login');
  if (run.via === 'qr') {
    await page.goto(`/staff/checkin/${run.code}`);
    if (!new URL(page.url()).pathname.startsWith('/login')) fail(`the QR link did not ask for a login (at ${page.url()})`);
  } else {
    await page.goto('/lang/en?next=/login');
  }
  await checkPage(run, page);
  let res = await login(page, input.username, input.password, {
    lang: run.lang,
    go: false,
    tap: !!run.context.hasTouch,
    beforeSubmit: () => shot(run, page, '1-login'),
  });
  h.say(run.name, '1-login', `as ${input.username}, now at ${new URL(page.url()).pathname}`);

  // 2. The check-in page: the QR link lands there; at the desk, type the code on today's list.
  h.step(run.name, '2-code');
  if (run.via === 'typed') {
    if (new URL(page.url()).pathname !== '/staff') fail(`expected today's list at /staff, at ${page.url()}`);
    await checkPage(run, page);
    if ((await page.locator('#live').count()) !== 1) fail("today's list has no #live region");
    await shot(run, page, '2-today');
    const typed = `${run.code.slice(0, 4)}-${run.code.slice(4)}`.toLowerCase();
    await page.locator('#code').fill(typed);
    res = await press(run, page, page.locator('form[action="/staff/checkin"] button[type=submit]'));
    if (!res || res.status() >= 400) fail(`typed code: HTTP ${res && res.status()}`);
  }
  if (!new URL(page.url()).pathname.startsWith('/staff/checkin/')) fail(`expected the check-in page, at ${page.url()}`);
  let facts = await checkPage(run, page);
  if (!facts.text.includes(run.name_shown)) fail(`the check-in page does not name ${run.name_shown}`);
  if (!/\*{14}[0-9X]{4}/.test(facts.text)) fail('no masked ID number to compare with');
  h.say(run.name, '2-code', `check-in page for ${run.code}`);

  // 3. Identity and screening. At the desk, first answer "allergy: yes" without deciding.
  h.step(run.name, '3-screen');
  await page.locator('#last4').fill(run.last4);
  for (const q of ['fever', 'allergy', 'pregnant', 'recent_vaccine']) {
    const answer = run.via === 'typed' && q === 'allergy' ? 'yes' : 'no';
    await page.locator(`input[name=${q}][value=${answer}]`).check();
  }
  await shot(run, page, '3-screen');
  res = await press(run, page, page.locator('form[action^="/staff/checkin/"]:not([hidden]) button[type=submit]'));
  if (run.via === 'typed') {
    if (!res || res.status() !== 422) fail(`a yes without a decision should be refused (HTTP ${res && res.status()})`);
    facts = await checkPage(run, page);
    if (!facts.text.includes('choose to vaccinate today or to defer')) fail('no explanation of the needed decision');
    if ((await page.locator('input[name=allergy][value=yes]:checked').count()) !== 1) fail('the answers were not kept');
    await shot(run, page, '3-decide');
    await page.locator('#last4').fill(run.last4);
    await page.locator('input[name=decision][value=proceed]').check();
    res = await press(run, page, page.locator('form[action^="/staff/checkin/"]:not([hidden]) button[type=submit]'));
  }
  if (!res || res.status() >= 400) fail(`check-in: HTTP ${res && res.status()}`);
  facts = await checkPage(run, page);
  if ((await page.locator('form[action$="/dose"]').count()) !== 1) fail('no dose form after check-in');
  const lots = await page.locator('#lot option').count();
  if (lots === 0) fail('no lot to choose');
  await shot(run, page, '4-dose');
  h.say(run.name, '3-screen', `checked in; ${lots} lot(s) offered`);

  // 4. Record the dose (lot, dose number and time are prefilled), then see them in observation.
  h.step(run.name, '4-dose');
  res = await press(run, page, page.locator('form[action$="/dose"] button[type=submit]'));
  if (!res || res.status() >= 400) fail(`record dose: HTTP ${res && res.status()}`);
  if (!/^\/staff\/sites\/\d+$/.test(new URL(page.url()).pathname)) fail(`expected today's list, at ${page.url()}`);
  facts = await checkPage(run, page);
  const observation = (await page.locator('#observation').innerText()).trim();
  if (!observation.includes(run.name_shown)) fail(`${run.name_shown} is not in the observation list: ${observation}`);
  if (!/09:30/.test(observation)) fail(`no leaving time 09:30 in: ${observation}`);
  await shot(run, page, '5-observation');
  await page.emulateMedia({ media: 'print' });
  await shot(run, page, '6-print');
  await page.emulateMedia({ media: 'screen' });
  if (badLoads.length) fail(`subresource failed: ${badLoads.join('; ')}`);
  if (scriptErrors.length) fail(`script errors: ${scriptErrors.join('; ')}`);
  h.say(run.name, '4-dose', `in observation until 09:30`);
  await context.close();
}

h.run(async () => {
  for (const run of RUNS) {
    await journey(run);
    h.pass();
  }
});

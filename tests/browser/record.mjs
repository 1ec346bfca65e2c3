// Dosewise record journey: a resident opens their vaccination record on a phone (QR code and
// doses), then a checker opens /verify, the network goes off, and the page still checks the
// record in the browser: valid as issued, not valid after one character is changed.
//
// Usage: node tests/browser/record.mjs BASE_URL SCREENSHOT_DIR PAYLOAD CHANGED_PAYLOAD
// The resident's browser is given the appointment cookie through /find (code + ID number), which
// the Rust test passes as the next two arguments.

import { PHONE_ZH, check, harness } from './harness.mjs';

const h = harness({
  title: 'record journey',
  usage: 'BASE_URL SCREENSHOT_DIR PAYLOAD CHANGED_PAYLOAD CODE ID_NUMBER',
  shots: 'record-',
});
const [payload, changed, code, idNumber] = h.args;

h.run(async () => {
  const { page, context } = await h.open('record', PHONE_ZH);
  h.step('record', 'find');
  await page.goto('/find');
  await page.getByLabel('预约码（8位）').fill(code);
  await page.getByLabel('居民身份证号码（18位）').fill(idNumber);
  await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: '查询' }).click()]);
  await page.getByTestId('record-link').click();
  await page.waitForURL('**/record');
  check((await page.textContent('h1')).includes('疫苗接种记录'), 'the record page');
  check(await page.getByRole('img', { name: '这份接种记录的签名二维码' }).isVisible(), 'QR code shown');
  const shown = await page.getByTestId('payload').getAttribute('data-payload');
  check(shown.startsWith('DW1.'), `a payload on the page: ${shown}`);
  await h.shot(page, 'phone');
  h.pass('the record shows the doses and the signed QR code on a phone');

  h.step('verify', 'offline');
  await page.goto('/verify');
  await page.waitForLoadState('load');
  await context.setOffline(true);
  await page.getByLabel('记录码').fill(payload);
  await page.getByRole('button', { name: '核验' }).click();
  const verdict = page.getByTestId('verdict');
  await verdict.getByText('有效：由本市签发，内容未被改动').waitFor();
  check((await verdict.textContent()).includes('LOT1'), 'the doses are listed');
  check(
    (await verdict.locator('[data-checked-in="browser"]').count()) === 1,
    'checked in the page, not by the server',
  );
  h.pass('offline, the page says the record is valid');

  await page.getByLabel('记录码').fill(changed);
  await page.getByRole('button', { name: '核验' }).click();
  await verdict.getByText('无效：签发后内容被改动过').waitFor();
  await h.shot(page, 'verify-offline');
  h.pass('offline, one changed character makes it not valid');
  await context.setOffline(false);
});

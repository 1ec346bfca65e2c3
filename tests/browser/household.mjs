// Dosewise household journey, on a phone (zh-CN): a resident books a dose, opens "my household"
// from the appointment page, adds two family members (their ID numbers masked on the page), and
// books both members' first doses together in one step, into adjacent seats; the page then lists
// everyone's appointments. Works without JavaScript: every step is a plain form.
//
// Usage: node tests/browser/household.mjs BASE_URL SCREENSHOT_DIR SLOT ID1 ID2 ID3 SITE DATE
// SLOT: the slot the resident books first; ID1..ID3: the resident's and the members' ID numbers;
// SITE and DATE (YYYY-MM-DD): where and when the members are booked together.

import { PHONE_ZH, check, harness, submit } from './harness.mjs';

const h = harness({
  title: 'household journey',
  usage: 'BASE_URL SCREENSHOT_DIR SLOT ID1 ID2 ID3 SITE DATE',
  shots: 'household-',
});
const [slot, id1, id2, id3, site, date] = h.args;

h.run(async () => {
  const { page, problems } = await h.open('house', { ...PHONE_ZH, hasTouch: true, javaScriptEnabled: false });

  h.step('house', 'book');
  await page.goto(`/slots/${slot}/book`);
  await page.getByLabel('姓名').fill('王小明');
  await page.getByLabel('居民身份证号码（18位）').fill(id1);
  await page.getByLabel('手机号码').fill('13912345678');
  await page.getByLabel('电子邮箱').fill('wang@example.com');
  await submit(page, page.getByRole('button', { name: '确认预约' }));
  check((await page.textContent('h1')).includes('预约成功'), 'booked');
  h.pass('the resident booked');

  h.step('house', 'open');
  await submit(page, page.getByTestId('household-link'));
  check((await page.textContent('h1')).includes('我的家庭'), 'the household page');
  h.pass('the appointment page leads to the household');

  h.step('house', 'add');
  for (const [name, id] of [['王小红', id2], ['王小刚', id3]]) {
    const add = page.locator('form[action="/household/members"]');
    await add.getByLabel('姓名').fill(name);
    await add.getByLabel('居民身份证号码（18位）').fill(id);
    await submit(page, add.getByRole('button', { name: '添加成员' }));
    await page.getByTestId('house-notice').waitFor();
    check((await page.textContent('body')).includes(name), `${name} listed`);
  }
  const body = await page.textContent('body');
  for (const id of [id1, id2, id3]) {
    check(!body.includes(id), 'no full ID number on the page');
    check(body.includes(id.slice(-4)), 'the masked ID number shows the last four');
  }
  check((await page.getByTestId('member').count()) === 3, 'three members');
  await h.shot(page, 'members');
  h.pass('two members added, ID numbers masked');

  h.step('house', 'together');
  await page.getByLabel('接种点').selectOption(site);
  await page.getByLabel('日期').fill(date);
  await submit(page, page.getByRole('button', { name: '查看时段' }));
  await page.getByRole('checkbox', { name: '王小红' }).check();
  await page.getByRole('checkbox', { name: '王小刚' }).check();
  await page.getByRole('radio').first().check();
  await h.shot(page, 'choose');
  await submit(page, page.getByRole('button', { name: '为所选的人预约' }));
  await page.getByTestId('house-notice').waitFor();
  check((await page.getByTestId('house-notice').textContent()).includes('预约成功'), 'booked together');
  const members = page.getByTestId('member');
  for (const i of [1, 2]) {
    const text = await members.nth(i).textContent();
    check(text.includes('预约码') && text.includes('已预约'), `member ${i} lists the booking: ${text}`);
  }
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  check(width <= 390, `fits the phone's width (${width}px)`);
  await h.shot(page, 'booked');
  check(problems.badLoads.length === 0, `failed loads: ${problems.badLoads.join(', ')}`);
  h.pass('both members booked together in one step');
});

// Drives the dashboard in Debian's headless Chromium (playwright-core).
// Run by tests/integration/dashboard_test.cc against the whole system under
// supervisord. Environment: DASHBOARD_URL, ADMIN_TOKEN, ARTIFACTS (directory
// for screenshots), EXPECTED_TABLES (count). Prints WAITING_FOR_RECOVERY when
// it is ready for the test to corrupt a table, then waits for the
// recovery_complete event to appear live. Exit code 0 means every check held.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";

const url = process.env.DASHBOARD_URL;
const token = process.env.ADMIN_TOKEN;
const artifacts = process.env.ARTIFACTS || ".";
const expectedTables = Number(process.env.EXPECTED_TABLES || 9);
mkdirSync(artifacts, { recursive: true });

function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`);
  console.log(`ok - ${message}`);
}

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
let page;
try {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  page = await context.newPage();
  page.on("dialog", (d) => d.accept());
  for (let i = 0; ; i++) {
    try { await page.goto(url, { timeout: 5000 }); break; } catch (e) {
      if (i > 30) throw e;
      await page.waitForTimeout(500);
    }
  }
  check(await page.isVisible("[data-testid=token]"), "the dashboard asks for a token");

  await page.fill("[data-testid=token]", "wrong-token-0000000000");
  await page.click("[data-testid=sign-in]");
  await page.waitForSelector("#login-error:has-text('not the admin token')");
  check(true, "a wrong token is refused");

  await page.fill("[data-testid=token]", token);
  await page.click("[data-testid=sign-in]");
  await page.waitForFunction((n) => document.querySelectorAll("#table-rows tr[data-table]").length === n,
                             expectedTables, { timeout: 15000 });
  check(true, `all ${expectedTables} tables are listed`);
  await page.waitForSelector("[data-testid=shipped-agent_mailbox]:has-text('writes to')", { timeout: 15000 });
  check(true, "the recovery point (shipped write-ahead logs) is shown");
  await page.waitForSelector("#live.on", { timeout: 10000 });
  check(true, "the live event stream is connected");
  await page.screenshot({ path: `${artifacts}/dashboard.png`, fullPage: true });

  const historyBefore = await page.locator("#history-rows tr").count();
  await page.click("[data-testid=compact-all]");
  await page.waitForSelector("[data-testid=compact-all]:disabled", { timeout: 2000 }).catch(() => {});
  await page.waitForFunction((n) => document.querySelectorAll("#history-rows tr").length >= n,
                             historyBefore + expectedTables, { timeout: 60000 });
  check(true, "compact all added a history row per table");
  await page.waitForSelector("#events li[data-type=compaction_complete]", { timeout: 10000 });
  check(true, "compaction_complete arrived in the live feed");
  await page.screenshot({ path: `${artifacts}/after-compact-all.png`, fullPage: true });

  // A point-in-time restore's dry run: what going back to now would bring
  // back, without touching the table.
  await page.click("tr[data-table=agent_mailbox] button:has-text('Backups')");
  await page.waitForSelector("[data-testid=pitr-preview-agent_mailbox]", { timeout: 10000 });
  // Where the backup lives, and the copy off this host.
  const where = await page.textContent(`[data-testid="where-${process.env.BACKUP_ID}"]`);
  check(where === "local + remote", `the backup is shown in both places: "${where}"`);
  const offsite = await page.textContent("[data-testid=remote-agent_mailbox]");
  check(/^Off this host \(directory .+\): everything up to /.test(offsite),
        `the off-host copy's state is shown: "${offsite}"`);
  await page.click("[data-testid=pitr-preview-agent_mailbox]");
  await page.waitForSelector("[data-testid=pitr-result-agent_mailbox]:has-text('would bring back')",
                             { timeout: 30000 });
  const preview = await page.textContent("[data-testid=pitr-result-agent_mailbox]");
  check(/would bring back [1-9][\d,]* records as of .+ leaving out 0 later batches/.test(preview),
        `the point-in-time preview says what it would bring back: "${preview}"`);
  await page.screenshot({ path: `${artifacts}/point-in-time-preview.png`, fullPage: true });

  console.log("WAITING_FOR_RECOVERY");
  await page.waitForSelector("#events li[data-type=recovery_complete]", { timeout: 60000 });
  check(true, "recovery_complete appeared live, without reloading");
  await page.waitForSelector("[data-testid=state-agent_mailbox]:has-text('ok')", { timeout: 20000 });
  check(true, "agent_mailbox is back to ok");
  await page.screenshot({ path: `${artifacts}/after-recovery.png`, fullPage: true });
  console.log("E2E PASSED");
  await browser.close();
} catch (e) {
  console.error(e.message);
  if (page) await page.screenshot({ path: `${artifacts}/failure.png`, fullPage: true }).catch(() => {});
  await browser.close();
  process.exit(1);
}

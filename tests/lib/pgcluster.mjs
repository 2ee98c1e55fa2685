// The runner's PostgreSQL cluster (PASSERELLE_TEST_PGDIR), stopped and started by the tests
// that take the database away. Whatever happens (crash, timeout, signal), the cluster is
// left running at exit.
//
//   await pgCluster("stop");   // fast shutdown
//   await pgCluster("kill");   // as a crash would: immediate, recovery at the next start
//   await pgCluster("start");
//   pgCluster.down             // true between a stop/kill and the next start
import { execFile, execFileSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { onExit } from "./harness.mjs";
import { TEST_PGDIR } from "./server.mjs";

const PG_SH = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../scripts/pg.sh");
// The runner starts its cluster without fsync (tests/run.sh); a restart keeps it so.
const ENV = { ...process.env, PG_FSYNC: process.env.PG_FSYNC ?? "off" };

export function pgCluster(cmd) {
  if (!TEST_PGDIR) return Promise.reject(new Error("PASSERELLE_TEST_PGDIR is not set (run through tests/run.sh)"));
  return new Promise((resolve, reject) => {
    execFile("sh", [PG_SH, cmd, TEST_PGDIR], { timeout: 60000, env: ENV }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`pg.sh ${cmd} failed: ${stderr || err.message}`));
      pgCluster.down = cmd !== "start";
      resolve(stdout);
    });
  });
}
pgCluster.down = false;

onExit(() => {
  if (pgCluster.down) execFileSync("sh", [PG_SH, "start", TEST_PGDIR], { stdio: "ignore", timeout: 60000, env: ENV });
});

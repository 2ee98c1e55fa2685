// Runs build/tests/tools/atproto_drive (the atproto C pieces on a libevent loop) and reads its
// JSON lines.
//
//   const out = await drive(["--allow-private", "--plc", url, "resolve-handle", "alice.test"]);
//   // [{ subject, status, error, did, handle, pds, signing_key }]
import { execFile } from "node:child_process";
import path from "node:path";
import { BIN } from "./server.mjs";
import { SLOW, VALGRIND } from "./harness.mjs";

export const DRIVE = path.join(path.dirname(BIN), "tests/tools/atproto_drive");

export function drive(args, { timeout = 30000, input } = {}) {
  return new Promise((resolve, reject) => {
    // Under PASSERELLE_VALGRIND=1 (make check) the driver runs under valgrind too: exit 99 on
    // memory errors or definite leaks fails the test.
    const [cmd, argv] = VALGRIND
      ? ["valgrind", ["-q", "--error-exitcode=99", "--leak-check=full", "--errors-for-leak-kinds=definite,indirect", DRIVE, ...args]]
      : [DRIVE, args];
    const child = execFile(cmd, argv, { timeout: timeout * SLOW }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`atproto_drive ${args.join(" ")}: ${err.message}\n${stderr}`));
      try {
        resolve(stdout.trim().split("\n").filter(Boolean).map((l) => JSON.parse(l)));
      } catch (e) {
        reject(new Error(`atproto_drive said ${stdout}: ${e.message}`));
      }
    });
    if (input !== undefined) child.stdin.end(input);
  });
}

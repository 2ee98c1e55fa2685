// The test peers' and servers' RSA keys (tests/lib/actorhost.mjs, tests/lib/server.mjs).
import { createPrivateKey, createPublicKey, generateKeyPairSync } from "node:crypto";
import { linkSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";

// An RSA-2048 key pair. Making one costs about 120 ms of CPU (over a second of a loaded
// two-core machine, half a minute for a file with two dozen actors), and a run makes hundreds.
// Under tests/run.sh (PASSERELLE_TEST_KEYDIR), the n-th key a test process asks for is the
// run's n-th key: made by the first process that needed it, read back by the others. Keys stay
// distinct within a process (no two actors or rotations share one), as when each was new.
let keySerial = 0;
export function newKeyPair() {
  const dir = process.env.PASSERELLE_TEST_KEYDIR;
  const file = dir ? `${dir}/key-${keySerial++}.pem` : null;
  let privatePem = null;
  try {
    if (file) privatePem = readFileSync(file, "utf8");
  } catch {
    /* not made yet */
  }
  let privateKey;
  if (privatePem) {
    privateKey = createPrivateKey(privatePem);
  } else {
    ({ privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 }));
    privatePem = privateKey.export({ type: "pkcs8", format: "pem" });
    if (file) {
      // Test files run side by side (tests/run.sh TEST_JOBS): the first to link the n-th key
      // wins (link fails if the name exists, rename would not) and the others take its key, so
      // every process agrees on key-n whatever the order.
      const own = `${file}.${process.pid}`;
      writeFileSync(own, privatePem, { mode: 0o600 });
      try {
        linkSync(own, file);
      } catch (e) {
        if (e.code !== "EEXIST") throw e;
        privatePem = readFileSync(file, "utf8");
        privateKey = createPrivateKey(privatePem);
      } finally {
        unlinkSync(own);
      }
    }
  }
  return { privateKey, privatePem, publicKeyPem: createPublicKey(privateKey).export({ type: "spki", format: "pem" }) };
}

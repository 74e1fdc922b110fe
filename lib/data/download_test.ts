import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertRejects,
  assertStringIncludes,
} from "@std/assert";
import {
  downloadFile,
  type DownloadProgress,
  formatProgress,
} from "./download.ts";
import { DatasetError } from "./errors.ts";
import { md5Hex } from "./hashing.ts";
import { Rng } from "../rng.ts";

/** What the raw test server does with one request. */
interface Behaviour {
  status?: number;
  /** Close the socket after sending this many body bytes (first `dropTimes` requests). */
  dropAfter?: number;
  dropTimes?: number;
  /** Honour Range requests (default true). */
  ranges?: boolean;
}

/**
 * A raw-TCP HTTP/1.1 server on 127.0.0.1 (so it can drop a connection in
 * the middle of a body, which Deno.serve cannot).
 */
function rawServer(files: Record<string, Uint8Array>, behaviour: Behaviour) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const log: { path: string; range: string | null }[] = [];
  let drops = 0;
  const enc = new TextEncoder();
  const serveConn = async (conn: Deno.Conn) => {
    try {
      let head = "";
      const buf = new Uint8Array(4096);
      while (!head.includes("\r\n\r\n")) {
        const n = await conn.read(buf);
        if (n === null) return;
        head += new TextDecoder().decode(buf.subarray(0, n));
      }
      const [reqLine, ...lines] = head.split("\r\n");
      const path = reqLine.split(" ")[1].slice(1);
      const range = lines.find((l) =>
        /^range:/i.test(l)
      )?.split(":")[1].trim() ?? null;
      log.push({ path, range });
      const body = files[path];
      const status = behaviour.status ?? (body ? 200 : 404);
      if (status !== 200 || !body) {
        const msg = enc.encode("no");
        await conn.write(enc.encode(
          `HTTP/1.1 ${status} X\r\nContent-Length: ${msg.length}\r\nConnection: close\r\n\r\n`,
        ));
        await conn.write(msg);
        return;
      }
      let start = 0;
      let statusLine = "HTTP/1.1 200 OK";
      let extra = "";
      const m = range?.match(/^bytes=(\d+)-$/);
      if (m && (behaviour.ranges ?? true)) {
        start = Number(m[1]);
        statusLine = "HTTP/1.1 206 Partial Content";
        extra = `Content-Range: bytes ${start}-${
          body.length - 1
        }/${body.length}\r\n`;
      }
      const slice = body.subarray(start);
      await conn.write(enc.encode(
        `${statusLine}\r\nContent-Length: ${slice.length}\r\n${extra}Connection: close\r\n\r\n`,
      ));
      let send = slice;
      if (
        behaviour.dropAfter !== undefined && drops < (behaviour.dropTimes ?? 1)
      ) {
        drops++;
        send = slice.subarray(0, behaviour.dropAfter);
      }
      let w = 0;
      while (w < send.length) w += await conn.write(send.subarray(w));
    } catch {
      /* client went away */
    } finally {
      try {
        conn.close();
      } catch { /* closed */ }
    }
  };
  const done = (async () => {
    for await (const conn of listener) serveConn(conn);
  })().catch(() => {});
  const port = (listener.addr as Deno.NetAddr).port;
  return {
    url: (p: string) => `http://127.0.0.1:${port}/${p}`,
    log,
    async close() {
      listener.close();
      await done;
    },
  };
}

function payload(n: number, seed: number): Uint8Array {
  const rng = new Rng(seed);
  return new Uint8Array(n).map(() => rng.int(256));
}

async function exists(p: string): Promise<boolean> {
  try {
    await Deno.stat(p);
    return true;
  } catch {
    return false;
  }
}

Deno.test("download: whole file, md5 verified, progress reaches the total", async () => {
  const body = payload(300_000, 1);
  const srv = rawServer({ "f.bin": body }, {});
  const dir = await Deno.makeTempDir();
  try {
    const seen: DownloadProgress[] = [];
    const r = await downloadFile(srv.url("f.bin"), `${dir}/f.bin`, {
      md5: md5Hex(body),
      onProgress: (p) => seen.push(p),
    });
    assertEquals(await Deno.readFile(`${dir}/f.bin`), body);
    assertEquals(r.resumes, 0);
    assertEquals(r.md5, md5Hex(body));
    const last = seen[seen.length - 1];
    assert(last.done);
    assertEquals([last.received, last.total], [body.length, body.length]);
    assert(!(await exists(`${dir}/f.bin.part`)));
  } finally {
    await srv.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("download: a connection dropped mid-file is resumed with Range", async () => {
  const body = payload(200_000, 2);
  const srv = rawServer({ "f.bin": body }, { dropAfter: 70_000, dropTimes: 2 });
  const dir = await Deno.makeTempDir();
  try {
    const r = await downloadFile(srv.url("f.bin"), `${dir}/f.bin`, {
      md5: md5Hex(body),
      retryDelayMs: 1,
    });
    assertEquals(await Deno.readFile(`${dir}/f.bin`), body);
    assertEquals(r.resumes, 2);
    assertEquals(srv.log.map((l) => l.range), [
      null,
      "bytes=70000-",
      "bytes=140000-",
    ]);
  } finally {
    await srv.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("download: a .part left by an earlier run is resumed; a server without Range restarts cleanly", async () => {
  const body = payload(50_000, 3);
  const dir = await Deno.makeTempDir();
  const srv = rawServer({ "f.bin": body }, {});
  const srv2 = rawServer({ "f.bin": body }, { ranges: false });
  try {
    await Deno.writeFile(`${dir}/f.bin.part`, body.subarray(0, 12_345));
    const r = await downloadFile(srv.url("f.bin"), `${dir}/f.bin`, {
      md5: md5Hex(body),
    });
    assertEquals(srv.log[0].range, "bytes=12345-");
    assertEquals(r.resumes, 1);
    assertEquals(await Deno.readFile(`${dir}/f.bin`), body);
    await Deno.writeFile(`${dir}/g.bin.part`, body.subarray(0, 999));
    await downloadFile(srv2.url("f.bin"), `${dir}/g.bin`, {
      md5: md5Hex(body),
    });
    assertEquals(await Deno.readFile(`${dir}/g.bin`), body);
  } finally {
    await srv.close();
    await srv2.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("download: wrong checksum gives the error and leaves no file", async () => {
  const body = payload(10_000, 4);
  const srv = rawServer({ "f.bin": body }, {});
  const dir = await Deno.makeTempDir();
  try {
    const e = await assertRejects(() =>
      downloadFile(srv.url("f.bin"), `${dir}/f.bin`, { md5: "0".repeat(32) })
    );
    assertInstanceOf(e, DatasetError);
    assertEquals(e.code, "checksum");
    assertStringIncludes(e.message, md5Hex(body));
    assertStringIncludes(e.message, "0".repeat(32));
    assertEquals([...Deno.readDirSync(dir)].length, 0);
  } finally {
    await srv.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("download: 404, 500 and connection refused give one-line errors", async () => {
  const srv = rawServer({}, {});
  const srv500 = rawServer({ "f": new Uint8Array(3) }, { status: 500 });
  const dir = await Deno.makeTempDir();
  try {
    const e404 = await assertRejects(() =>
      downloadFile(srv.url("missing.tar.gz"), `${dir}/m`, {})
    );
    assertInstanceOf(e404, DatasetError);
    assertEquals(e404.code, "not-found");
    assertStringIncludes(e404.message, "404");
    assertStringIncludes(e404.message, "missing.tar.gz");
    const e500 = await assertRejects(() =>
      downloadFile(srv500.url("f"), `${dir}/f`, { retries: 1, retryDelayMs: 1 })
    );
    assertEquals((e500 as DatasetError).code, "http");
    // a port nobody listens on
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (l.addr as Deno.NetAddr).port;
    l.close();
    const eNet = await assertRejects(() =>
      downloadFile(`http://127.0.0.1:${port}/x`, `${dir}/x`, {
        retries: 1,
        retryDelayMs: 1,
      })
    );
    assertInstanceOf(eNet, DatasetError);
    assertEquals(eNet.code, "network");
    assertStringIncludes(eNet.message, `127.0.0.1:${port}`);
    for (const e of [e404, e500, eNet]) {
      assert(!(e as Error).message.includes("\n"));
    }
    assertEquals([...Deno.readDirSync(dir)].length, 0);
  } finally {
    await srv.close();
    await srv500.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("formatProgress: bytes, percentage and ETA", () => {
  const s = formatProgress({
    name: "x.tar.gz",
    received: 3 * 1024 * 1024,
    total: 12 * 1024 * 1024,
    rate: 1024 * 1024,
    etaSeconds: 9,
    done: false,
  }, 8);
  assertEquals(
    s,
    "x.tar.gz [##------]  25.0% 3.0 MiB / 12.0 MiB 1.0 MiB/s ETA 0:09",
  );
});

// SPDX-License-Identifier: MIT
// Test media made on the spot: a PNG street scene, a WAV of tones, and a server for them on
// 127.0.0.1 (a free port) that answers Range requests, as the audio element asks for them.
import http from 'node:http';
import zlib from 'node:zlib';

const CRC = Array.from({length: 256}, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const len = Buffer.alloc(4), crc = Buffer.alloc(4), td = Buffer.concat([Buffer.from(type), data]);
  len.writeUInt32BE(data.length);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

// A w x h RGB PNG whose pixel (x, y) is paint(x, y) = [r, g, b].
export function png(w, h, paint) {
  const raw = Buffer.alloc((w * 3 + 1) * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) raw.set(paint(x, y), y * (w * 3 + 1) + 1 + x * 3);
  }
  const head = Buffer.alloc(13);
  head.writeUInt32BE(w, 0);
  head.writeUInt32BE(h, 4);
  head.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', head),
    chunk('IDAT', zlib.deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

// Where the things of the street scene are, in pixels of its 640 x 400 image.
export const SCENE = {width: 640, height: 400,
  cars: [[60, 250, 230, 330], [400, 262, 580, 345]], person: [300, 170, 345, 335]};

// The street: sky, a road, two cars with windows and wheels, and a person.
export function street() {
  const {cars, person} = SCENE;
  const inside = (x, y, [x1, y1, x2, y2]) => x >= x1 && x < x2 && y >= y1 && y < y2;
  const disc = (x, y, cx, cy, r) => (x - cx) ** 2 + (y - cy) ** 2 <= r * r;
  const colours = [[200, 40, 40], [40, 90, 200]];
  return png(SCENE.width, SCENE.height, (x, y) => {
    for (const [i, c] of cars.entries()) {
      const [x1, y1, x2, y2] = c, h = y2 - y1;
      if (disc(x, y, x1 + 35, y2 - 16, 16) || disc(x, y, x2 - 35, y2 - 16, 16)) return [30, 30, 30];
      if (inside(x, y, [x1 + 30, y1, x2 - 40, y1 + h * 0.4])) {
        return inside(x, y, [x1 + 40, y1 + 8, x2 - 50, y1 + h * 0.4]) ? [190, 220, 240] : colours[i];
      }
      if (inside(x, y, [x1, y1 + h * 0.4, x2, y2 - 10])) return colours[i];
    }
    const [px1, py1, px2, py2] = person, mx = (px1 + px2) / 2;
    if (disc(x, y, mx, py1 + 14, 14)) return [230, 180, 140];
    if (inside(x, y, [px1, py1 + 28, px2, py1 + 95])) return [40, 140, 90];
    if (inside(x, y, [px1 + 6, py1 + 95, px2 - 6, py2])) return [50, 50, 80];
    if (y < 240) return [150 + (y >> 2), 200 + (y >> 4), 250];
    return y < 250 ? [120, 120, 120] : (y > 360 && y < 366 && x % 60 < 30) ? [240, 240, 240] : [80, 84, 90];
  });
}

// seconds of 16-bit mono PCM at 8 kHz: one tone a second, rising.
export function wav(seconds) {
  const rate = 8000, n = rate * seconds, b = Buffer.alloc(44 + n * 2);
  b.write('RIFF', 0); b.writeUInt32LE(36 + n * 2, 4); b.write('WAVEfmt ', 8);
  b.writeUInt32LE(16, 16); b.writeUInt16LE(1, 20); b.writeUInt16LE(1, 22);
  b.writeUInt32LE(rate, 24); b.writeUInt32LE(rate * 2, 28); b.writeUInt16LE(2, 32); b.writeUInt16LE(16, 34);
  b.write('data', 36); b.writeUInt32LE(n * 2, 40);
  for (let i = 0; i < n; i++) {
    const f = 220 * (1 + Math.floor(i / rate) / 4);
    b.writeInt16LE(Math.round(8000 * Math.sin(2 * Math.PI * f * i / rate)), 44 + i * 2);
  }
  return b;
}

// Serves files ({'/path': [contentType, Buffer]}) on 127.0.0.1; resolves to {url, close()}.
export async function mediaServer(files) {
  const srv = http.createServer((req, res) => {
    const f = files[req.url];
    if (!f) { res.writeHead(404).end(); return; }
    const [type, body] = f;
    const m = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range || '');
    if (!m) { res.writeHead(200, {'Content-Type': type, 'Content-Length': body.length, 'Accept-Ranges': 'bytes'}).end(body); return; }
    const start = m[1] ? Number(m[1]) : body.length - Number(m[2]);
    const end = m[1] && m[2] ? Math.min(Number(m[2]), body.length - 1) : body.length - 1;
    res.writeHead(206, {'Content-Type': type, 'Content-Length': end - start + 1, 'Accept-Ranges': 'bytes',
                        'Content-Range': `bytes ${start}-${end}/${body.length}`}).end(body.subarray(start, end + 1));
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  return {url: `http://127.0.0.1:${srv.address().port}`, close: () => new Promise((r) => { srv.close(r); srv.closeAllConnections(); })};
}

// sharp (libvips) on the benchmark's file: node thumbnails.mjs FILE CONCURRENCY IMAGES
// Each image → thumb_1280 and thumb_320 (long side, never enlarged, EXIF-rotated, JPEG q82,
// metadata stripped: sharp's default), as the seed's worker did. Started by
// adapters/image/benches/thumbnails.rs with UV_THREADPOOL_SIZE=CONCURRENCY.
import sharp from "sharp";
import { mkdirSync } from "node:fs";

const [file, concurrency, images] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
sharp.concurrency(1); // libvips threads per image; parallelism comes from images in flight
sharp.cache(false);
const out = new URL("../../target/bench-thumbnails/sharp/", import.meta.url).pathname;
mkdirSync(out, { recursive: true });

const thumbnails = (i) =>
  Promise.all(
    [1280, 320].map((side) =>
      sharp(file)
        .rotate()
        .resize(side, side, { fit: "inside", withoutEnlargement: true })
        .jpeg({ quality: 82 })
        .toFile(`${out}${i % concurrency}-${side}.jpg`),
    ),
  );

let next = 0;
const cpuBefore = process.cpuUsage();
const started = process.hrtime.bigint();
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (next < images) await thumbnails(next++);
  }),
);
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
const cpu = process.cpuUsage(cpuBefore); // microseconds, every thread of the process
const rate = images / seconds;
const cpuPerImage = (cpu.user + cpu.system) / 1000 / images;
console.log(
  `sharp ${sharp.versions.sharp} (libvips ${sharp.versions.vips}), ${concurrency} thread(s): ` +
    `${rate.toFixed(2)} images/s (${(rate * 2).toFixed(2)} thumbnails/s), ${cpuPerImage.toFixed(1)} CPU ms/image`,
);

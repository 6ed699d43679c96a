// How fast this machine hands a process memory it did not hold before: allocates 1 GB blocks,
// keeps them, and writes one byte per 4 KB page of each, printing GB/s per block. On a VM
// whose balloon reports freed memory to the host, blocks past what the host keeps backed
// are much slower. node bench/profile-first-touch.mjs [blocks]
const blocks = Number(process.argv[2] ?? 8);
const GB = 1 << 30;
const held = [];
for (let b = 0; b < blocks; b++) {
  const t0 = performance.now();
  const block = new Uint8Array(GB);
  for (let i = 0; i < GB; i += 4096) block[i] = 1;
  held.push(block);
  const seconds = (performance.now() - t0) / 1000;
  console.log(`block ${b + 1}: ${(1 / seconds).toFixed(2)} GB/s`);
}

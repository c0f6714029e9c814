// Test/benchmark only (never in production): preloaded with `node --expose-gc --require` into an API
// process so `npm run soak` can ask for the heap after a full GC. On SIGUSR2 it collects garbage and
// prints one JSON line: {"heapProbe": <heapUsed bytes>, "rss": <bytes>}.
process.on('SIGUSR2', () => {
  if (typeof global.gc === 'function') {
    global.gc();
    global.gc();
  }
  const m = process.memoryUsage();
  console.log(JSON.stringify({ heapProbe: m.heapUsed, rss: m.rss }));
});

// Send a workload with the official Node SDK, expo-server-sdk, as its README shows:
// chunkPushNotifications, then sendPushNotificationsAsync for each chunk, all started at once
// (the SDK runs at most 6 requests at a time and retries a 429 twice). A failed chunk is caught,
// as in the README, so the caller knows which notifications were not accepted.
//
//   BENCH_NODE_SDK=/abs/path/to/expo-server-sdk/build/ExpoClient.js EXPO_BASE_URL=http://127.0.0.1:PORT \
//     node node_driver.mjs '<workload JSON>'
//
// Messages and the printed JSON line are those of _workload.py: keep the two in step.
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const { Expo } = await import(pathToFileURL(process.env.BENCH_NODE_SDK).href);

const workload = JSON.parse(process.argv[2]);
const token = (index) => `ExponentPushToken[${workload.run}-${String(index).padStart(7, '0')}]`;

const messages = [];
for (let start = 0, number = 0; start < workload.notifications; start += workload.per_message, number++) {
  let to;
  if (workload.per_message === 1) {
    to = token(start);
  } else {
    to = [];
    for (let i = start; i < Math.min(start + workload.per_message, workload.notifications); i++) to.push(token(i));
  }
  messages.push({ to, title: 'Benchmark', body: `Notification ${number}`, data: { n: number } });
}

const usage = process.cpuUsage();
const setupCpu = (usage.user + usage.system) / 1e6;
const started = performance.now();

const expo = new Expo();
const chunks = expo.chunkPushNotifications(messages);
let tickets = 0;
let ok = 0;
const errors = [];
const unsent = [];
await Promise.all(
  chunks.map((chunk) =>
    expo.sendPushNotificationsAsync(chunk).then(
      (ticketChunk) => {
        for (const ticket of ticketChunk) {
          tickets++;
          if (ticket.status === 'ok') ok++;
        }
      },
      (error) => {
        errors.push(String(error).slice(0, 300));
        for (const message of chunk) {
          if (Array.isArray(message.to)) unsent.push(...message.to);
          else unsent.push(message.to);
        }
      },
    ),
  ),
);
const seconds = (performance.now() - started) / 1000;

if (process.env.BENCH_UNSENT_FILE) {
  writeFileSync(process.env.BENCH_UNSENT_FILE, unsent.map((t) => `${t}\n`).join(''));
}
console.log(
  JSON.stringify({
    notifications: workload.notifications,
    tickets,
    ok,
    errors: errors.length,
    first_errors: errors.slice(0, 3),
    unsent: unsent.length,
    unsent_known: true,
    seconds,
    setup_cpu: setupCpu,
  }),
);

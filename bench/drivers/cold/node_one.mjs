// Cold start, expo-server-sdk (Node): import it and send one notification as its README shows.
//   BENCH_NODE_SDK=/abs/path/ExpoClient.js EXPO_BASE_URL=http://127.0.0.1:PORT BENCH_TOKEN=... node node_one.mjs
// Exit status 0 when the ticket is ok.
import { pathToFileURL } from 'node:url';

const { Expo } = await import(pathToFileURL(process.env.BENCH_NODE_SDK).href);
const expo = new Expo();
const [ticket] = await expo.sendPushNotificationsAsync([
  { to: process.env.BENCH_TOKEN, title: 'Cold start', body: 'One notification' },
]);
process.exit(ticket.status === 'ok' ? 0 : 1);

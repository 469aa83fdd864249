import { NOTICE_CHANNEL, type Notice } from '../common/protocol.js';

let channel: BroadcastChannel | undefined;

/** Tells every open page of the origin that something of a session changed. */
export function notify(notice: Notice): void {
  channel ??= new BroadcastChannel(NOTICE_CHANNEL);
  channel.postMessage(notice);
}

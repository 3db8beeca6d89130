// Primary adapter — WebSocket frames: `ping` (pong, and `update` for dashboards), the dashboard's
// `subscribe`, node agents' reports (`metrics`, `logs`) and `service_ack` / `reporter_ack`; anything unrouted
// gets an error frame. A frame the dashboard refuses (bad shape, wrong role, unknown command) is answered with
// `{type: "error", …}`.
import type { APIGatewayProxyResultV2, APIGatewayProxyWebsocketEventV2 } from 'aws-lambda';
import { dashboard, type WsCaller } from '#shared/dashboard';
import { HttpError } from '#shared/http';
import { sendToConnection } from '#shared/realtime';
import { callerOf } from './caller.ts';

type FrameHandler = (caller: WsCaller, frame: unknown) => Promise<void>;

const frames: Record<string, FrameHandler> = {
  ping: (caller, frame) => dashboard().ping(caller, frame),
  subscribe: (caller, frame) => dashboard().subscribe(caller, frame),
  metrics: (caller, frame) => dashboard().reportFrame(caller, frame),
  logs: (caller, frame) => dashboard().logsFrame(caller, frame),
  service_ack: (caller, frame) => dashboard().acknowledge(caller, frame),
  reporter_ack: (caller, frame) => dashboard().acknowledge(caller, frame),
};

function parseFrame(body: string | undefined): unknown {
  try {
    return JSON.parse(body ?? '');
  } catch {
    return undefined;
  }
}

export const handler = async (event: APIGatewayProxyWebsocketEventV2): Promise<APIGatewayProxyResultV2> => {
  const { connectionId, routeKey } = event.requestContext;
  // The seed's dashboards send the bare text `ping`, which API Gateway routes to $default.
  const handle = frames[routeKey] ?? (event.body === 'ping' ? frames.ping : undefined);
  if (!handle) {
    await sendToConnection(connectionId, {
      type: 'error',
      error: 'unknown_action',
      message: `Send JSON frames with an "action" field; known actions: ${Object.keys(frames).join(', ')}`,
    });
    return { statusCode: 200 };
  }
  try {
    await handle(callerOf(event), routeKey === '$default' ? { action: 'ping' } : parseFrame(event.body));
  } catch (error) {
    if (!(error instanceof HttpError)) throw error;
    await sendToConnection(connectionId, { type: 'error', ...error.toBody() });
  }
  return { statusCode: 200 };
};

// OpenAPI — the API document, generated: OpenAPI 3.1 from the contract's route table (#shared/contracts:
// method, path, role) and the zod schemas the handlers parse with (./routes.ts names them per route; zod's
// own JSON Schema generator turns them into 2020-12 schemas, which OpenAPI 3.1 uses as is). Nothing here is
// a hand-kept copy of a route: a route of the table without an entry in ./routes.ts fails the type-check.
import * as z from 'zod';
import { type RouteKey, routeKeys, routes } from '#shared/contracts';
import { type RouteDoc, routeDocs } from './routes.ts';

export type { RouteDoc };
export { routeDocs };

type JsonSchema = Record<string, unknown>;

/** A zod schema as JSON Schema: of what a client sends (`input`, before transforms) or what the API answers. */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as JsonSchema;
  return rest;
}

/** Every error a handler answers: `{error, message}`, and per-field messages for a 400. */
export const errorBody = z.object({
  error: z.string().describe('A stable machine-readable code, e.g. `bad_request`, `not_found`'),
  message: z.string().describe('What went wrong, in plain words'),
  fields: z.record(z.string(), z.string()).optional().describe('Per-field messages (400 only)'),
});

/**
 * Answers API Gateway makes itself in AWS, before any handler runs, so they cannot carry the error body
 * (the local runtime answers them the same way): the JWT authorizer's 401, throttling's 429 and the payload
 * limit's 413. Listed so clients handle them.
 */
export const gatewayAnswers = {
  '401': 'No valid bearer token (answered by the JWT authorizer in AWS: `{"message":"Unauthorized"}`)',
  '413': 'Request body over the API Gateway payload limit (10 MB): `{"message":"Request Entity Too Large"}`',
  '429': 'Throttled by the API stage or route limits: `{"message":"Too Many Requests"}`',
} as const;

const errorResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
});

function operation(key: RouteKey, doc: RouteDoc): JsonSchema {
  const route = routes[key];
  const parameters: JsonSchema[] = [];
  for (const [name, schema] of Object.entries(doc.params ?? {})) {
    parameters.push({ name, in: 'path', required: true, schema: jsonSchema(schema, 'input') });
  }
  if (doc.query) {
    const query = jsonSchema(doc.query, 'input') as {
      properties?: Record<string, JsonSchema>;
      required?: string[];
    };
    for (const [name, schema] of Object.entries(query.properties ?? {})) {
      parameters.push({ name, in: 'query', required: query.required?.includes(name) ?? false, schema });
    }
  }
  const responses: Record<string, unknown> = {};
  for (const [status, answer] of Object.entries(doc.responses)) {
    responses[status] = {
      description: answer.description,
      ...(answer.body
        ? {
            content: {
              [answer.contentType ?? 'application/json']: { schema: jsonSchema(answer.body, 'output') },
            },
          }
        : {}),
    };
  }
  if (doc.query || doc.body || doc.params)
    responses['400'] = errorResponse('Bad input: `fields` names each bad field');
  if (route.role !== null) {
    responses['401'] = { description: gatewayAnswers['401'] };
    responses['403'] = errorResponse(`The token lacks the ${route.role} role`);
  }
  for (const [status, description] of Object.entries(doc.errors ?? {}))
    responses[status] = errorResponse(description);
  if (doc.body) responses['413'] = { description: gatewayAnswers['413'] };
  responses['429'] = { description: gatewayAnswers['429'] };
  responses['500'] = errorResponse('Something went wrong on our side (no detail is shown)');
  return {
    operationId: doc.operationId,
    summary: doc.summary,
    tags: [doc.tag],
    ...(route.role === null ? { security: [] } : { security: [{ bearer: [] }], 'x-vfleet-role': route.role }),
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(doc.body
      ? {
          requestBody: {
            required: true,
            content: { 'application/json': { schema: jsonSchema(doc.body, 'input') } },
          },
        }
      : {}),
    responses,
  };
}

/** The OpenAPI 3.1 document of every route of the contract's table. */
export function openApiDocument(
  info: { version: string; serverUrl?: string } = { version: '1' },
): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const key of routeKeys) {
    const route = routes[key];
    paths[route.path] ??= {};
    (paths[route.path] as Record<string, JsonSchema>)[route.method.toLowerCase()] = operation(
      key,
      routeDocs[key],
    );
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'vfleet API',
      version: info.version,
      description:
        'The HTTPS API of vfleet. Every route but the public ones needs a bearer token (JWT) of the configured issuer; `x-vfleet-role` names the role it needs (admin includes operator, which includes viewer).',
    },
    ...(info.serverUrl ? { servers: [{ url: info.serverUrl }] } : {}),
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
      schemas: { Error: jsonSchema(errorBody, 'output') },
    },
  };
}

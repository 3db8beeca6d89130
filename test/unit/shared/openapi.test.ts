// Unit tests — shared/openapi: the generated OpenAPI 3.1 document is valid against the OpenAPI 3.1 schema
// and holds every route of the contract's table exactly (method, path, role as security, path parameters),
// with the error answers every route can give.
import { Validator } from '@seriousme/openapi-schema-validator';
import { describe, expect, it } from 'vitest';
import { routeKeys, routes } from '#shared/contracts';
import { openApiDocument } from '#shared/openapi';

interface Operation {
  security: { bearer?: string[] }[];
  'x-vfleet-role'?: string;
  parameters?: { name: string; in: string }[];
  requestBody?: unknown;
  responses: Record<string, { content?: Record<string, { schema: unknown }> }>;
}

const document = openApiDocument({ version: 'test' }) as {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
};

/** Every operation of the document as `<METHOD> <path>`. */
const operations = () =>
  Object.entries(document.paths).flatMap(([path, methods]) =>
    Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`),
  );

describe('the OpenAPI document', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    const result = await new Validator().validate(document as never);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(document.openapi).toBe('3.1.0');
  });

  it('holds exactly the routes of the table, no more, no fewer', () => {
    expect(operations().sort()).toEqual([...routeKeys].sort());
    expect(operations()).toHaveLength(Object.keys(routes).length);
  });

  it('gives each route its role as a security requirement, and the public ones none', () => {
    for (const key of routeKeys) {
      const { method, path, role } = routes[key];
      const op = document.paths[path]?.[method.toLowerCase()] as Operation;
      if (role === null) {
        expect(op.security, key).toEqual([]);
      } else {
        expect(op.security, key).toEqual([{ bearer: [] }]);
        expect(op['x-vfleet-role'], key).toBe(role);
        expect(Object.keys(op.responses), key).toEqual(expect.arrayContaining(['401', '403']));
      }
    }
  });

  it('declares every path placeholder as a required path parameter, and no other', () => {
    for (const key of routeKeys) {
      const { method, path } = routes[key];
      const op = document.paths[path]?.[method.toLowerCase()] as Operation;
      const placeholders = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      const declared = (op.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name);
      expect(declared, key).toEqual(placeholders);
    }
  });

  it('answers errors in the {error, message} shape, and lists the gateway answers without it', () => {
    for (const key of routeKeys) {
      const { method, path } = routes[key];
      const op = document.paths[path]?.[method.toLowerCase()] as Operation;
      expect(op.responses['500']?.content?.['application/json']?.schema, key).toEqual({
        $ref: '#/components/schemas/Error',
      });
      expect(op.responses['429'], key).toBeDefined();
      if (op.requestBody) expect(op.responses['413'], key).toBeDefined();
      if (op.parameters?.length || op.requestBody) {
        expect(op.responses['400']?.content?.['application/json']?.schema, key).toEqual({
          $ref: '#/components/schemas/Error',
        });
      }
    }
  });

  it('documents the bodies and query strings the handlers parse with', () => {
    const register = document.paths['/api/v1/vcenters']?.post as Operation & {
      requestBody: { content: { 'application/json': { schema: { required: string[] } } } };
    };
    expect(register.requestBody.content['application/json'].schema.required).toEqual(
      expect.arrayContaining(['id', 'url', 'username', 'password']),
    );
    const vms = document.paths['/api/v1/vms']?.get as Operation;
    expect(vms.parameters?.map((p) => p.name)).toEqual(
      expect.arrayContaining(['vcenter', 'q', 'limit', 'cursor', 'power_state']),
    );
  });
});

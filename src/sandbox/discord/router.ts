/**
 * A small route table for the REST API: templates like `/channels/:channelId/messages`, whether the bot
 * token is required, and which parameters form the rate-limit bucket (Discord's "major parameters").
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { ParsedBody } from './request-body.js';

export interface RouteContext {
  method: string;
  path: string;
  params: Record<string, string>;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body(): Promise<ParsedBody>;
}

export interface RouteResult {
  status: number;
  body?: unknown;
}

export interface RouteDefinition {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  template: string;
  /**
   * `bot`: needs `Authorization: Bot <token>`. `none`: interaction callbacks and webhooks, which Discord
   * also leaves out of the bot's global rate limit.
   */
  auth: 'bot' | 'none';
  /** Parameters that split the bucket (channel, guild, webhook id + token). */
  major: string[];
  handle(ctx: RouteContext): Promise<RouteResult>;
}

interface CompiledRoute {
  definition: RouteDefinition;
  pattern: RegExp;
  names: string[];
}

export interface RouteMatch {
  definition: RouteDefinition;
  params: Record<string, string>;
  /** `METHOD /template`, the key used in the request log and for injected rate limits. */
  route: string;
}

export class Router {
  readonly #routes: CompiledRoute[] = [];

  add(...definitions: RouteDefinition[]): void {
    for (const definition of definitions) {
      const names: string[] = [];
      const source = definition.template
        .split('/')
        .map((segment) => {
          if (!segment.startsWith(':')) return segment.replace(/[.*+?^${}()|[\]\\@]/g, '\\$&');
          names.push(segment.slice(1));
          return '([^/]+)';
        })
        .join('/');
      this.#routes.push({ definition, pattern: new RegExp(`^${source}/?$`), names });
    }
  }

  /** `path` is relative to `/api/v10`, still URL-encoded (`%40original`). */
  match(method: string, path: string): RouteMatch | { methodNotAllowed: boolean } {
    let pathMatched = false;
    for (const compiled of this.#routes) {
      const found = compiled.pattern.exec(path);
      if (!found) continue;
      pathMatched = true;
      if (compiled.definition.method !== method) continue;
      const params: Record<string, string> = {};
      compiled.names.forEach((name, i) => {
        params[name] = decodeURIComponent(found[i + 1] ?? '');
      });
      return { definition: compiled.definition, params, route: `${method} ${compiled.definition.template}` };
    }
    return { methodNotAllowed: pathMatched };
  }
}

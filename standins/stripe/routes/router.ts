/** The API routes' table: "METHOD /path/:param" patterns to handlers, which return a body or throw ApiError. */
import type { Obj } from '../types';

/** A route handler: the path match, the body's params (v1 form or v2 JSON) and the query. */
export type RouteHandler = (m: RegExpMatchArray, p: Obj, q: Obj) => Obj;

export interface Route {
  method: string;
  pattern: RegExp;
  /** "METHOD /path/:param", as counted in stats.byRoute. */
  name: string;
  run: RouteHandler;
}

export class Router {
  private readonly routes: Route[] = [];

  route(method: string, path: string, run: RouteHandler): void {
    const pattern = new RegExp(`^${path.replace(/:\w+/g, '([^/]+)')}$`);
    this.routes.push({ method, pattern, name: `${method} ${path}`, run });
  }

  find(method: string | undefined, path: string): Route | undefined {
    return this.routes.find((r) => r.method === method && r.pattern.test(path));
  }
}

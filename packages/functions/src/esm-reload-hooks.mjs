// ESM resolve hook (registered with module.register by app-loader.ts). An app entry is imported as
// `file:///…/entry.js?hubbub-load=N` so a second load in the same process runs it again; this hook
// passes the same `hubbub-load` query on to the app's own modules the entry imports (never to
// node_modules), so functions registered in imported files are registered again too.
const PARAM = 'hubbub-load';

export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  const parent = context.parentURL;
  if (parent === undefined || !parent.startsWith('file:') || !result.url.startsWith('file:')) return result;
  const generation = new URL(parent).searchParams.get(PARAM);
  if (generation === null) return result;
  const url = new URL(result.url);
  if (url.pathname.includes('/node_modules/') || url.searchParams.has(PARAM)) return result;
  url.searchParams.set(PARAM, generation);
  return { ...result, url: url.href };
}

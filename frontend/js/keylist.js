// The key-supervision list (重点监管名单): filled in below.
export function renderKeyList(root) { root.innerHTML = ''; }

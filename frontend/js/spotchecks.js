// Double-random spot checks (双随机抽查): filled in below.
export function renderSpotChecks(root) { root.innerHTML = ''; }

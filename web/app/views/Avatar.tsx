// A round badge with a person's initials, its colour fixed by their id.
function hue(id: string): number {
  let h = 0;
  for (const ch of id) h = (h * 31 + ch.charCodeAt(0)) % 360;
  return h;
}

export function Avatar({ userId, name }: { userId: string; name: string }) {
  const initials = name
    .split(/\s+/)
    .filter(Boolean)
    .slice(0, 2)
    .map((w) => w[0]?.toUpperCase() ?? "")
    .join("");
  return (
    <span class="avatar" title={name} data-hue={hue(userId)} style={{ backgroundColor: `hsl(${String(hue(userId))} 55% 45%)` }}>
      {initials === "" ? "?" : initials}
    </span>
  );
}

/** The client IP as the policy view knows it: IPv4-mapped IPv6 (dual-stack sockets) as IPv4. */
export function clientAddress(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

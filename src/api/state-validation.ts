// Sanity checks of the cluster-state objects (Namespace, Pod, Node, Service, EndpointSlice): the
// fields dnsgate reads must be well-formed (IPs parse, ports in range, names valid). Defaults the API
// server would apply (port protocol TCP) are applied in place.

import { child, index, issue, type FieldIssue } from './errors.js';
import { parseIP } from './ip.js';
import { isDNS1123Subdomain, isValidPortName, isValidPortNum } from './labels.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const PROTOCOLS = ['SCTP', 'TCP', 'UDP'];
const PROTO_DETAIL = 'supported values: "SCTP", "TCP", "UDP"';

function checkArray(v: unknown, path: string, out: FieldIssue[]): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) {
    out.push(issue(path, 'Invalid value', 'must be of type array', typeof v));
    return [];
  }
  return v;
}

/** protocol of a port entry: defaults to TCP, otherwise one of the three. */
function checkProtocol(port: Obj, path: string, out: FieldIssue[]): void {
  if (port.protocol === undefined || port.protocol === null) port.protocol = 'TCP';
  else if (!PROTOCOLS.includes(port.protocol as string)) out.push(issue(child(path, 'protocol'), 'Unsupported value', PROTO_DETAIL, port.protocol));
}

function checkPortNumber(v: unknown, path: string, out: FieldIssue[], required: boolean): void {
  if (v === undefined || v === null) {
    if (required) out.push(issue(path, 'Required value', ''));
    return;
  }
  if (typeof v !== 'number') out.push(issue(path, 'Invalid value', 'must be of type integer', v));
  else for (const m of isValidPortNum(v)) out.push(issue(path, 'Invalid value', m, v));
}

function checkIP(v: unknown, path: string, out: FieldIssue[]): number | undefined {
  const ip = typeof v === 'string' ? parseIP(v) : undefined;
  if (!ip) out.push(issue(path, 'Invalid value', 'must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)', v));
  return ip?.family;
}

export function validatePod(pod: Obj): FieldIssue[] {
  const out: FieldIssue[] = [];
  if (!isObj(pod.spec)) return [issue('spec', 'Required value', '')];
  const spec = pod.spec;
  if (spec.hostNetwork !== undefined && typeof spec.hostNetwork !== 'boolean')
    out.push(issue('spec.hostNetwork', 'Invalid value', 'must be of type boolean', spec.hostNetwork));
  if (spec.nodeName !== undefined) {
    if (typeof spec.nodeName !== 'string') out.push(issue('spec.nodeName', 'Invalid value', 'must be of type string', spec.nodeName));
    else for (const m of isDNS1123Subdomain(spec.nodeName)) out.push(issue('spec.nodeName', 'Invalid value', m, spec.nodeName));
  }
  const containers = checkArray(spec.containers, 'spec.containers', out);
  if (spec.containers === undefined) out.push(issue('spec.containers', 'Required value', ''));
  for (const field of ['containers', 'initContainers'] as const) {
    const list = field === 'containers' ? containers : checkArray(spec[field], `spec.${field}`, out);
    list.forEach((c, i) => {
      const cp = index(`spec.${field}`, i);
      if (!isObj(c)) return void out.push(issue(cp, 'Invalid value', 'must be of type object', c));
      const names = new Set<string>();
      checkArray(c.ports, child(cp, 'ports'), out).forEach((p, j) => {
        const pp = index(child(cp, 'ports'), j);
        if (!isObj(p)) return void out.push(issue(pp, 'Invalid value', 'must be of type object', p));
        checkPortNumber(p.containerPort, child(pp, 'containerPort'), out, true);
        checkPortNumber(p.hostPort, child(pp, 'hostPort'), out, false);
        checkProtocol(p, pp, out);
        if (p.name !== undefined) {
          const name = p.name;
          if (typeof name !== 'string') out.push(issue(child(pp, 'name'), 'Invalid value', 'must be of type string', name));
          else {
            for (const m of isValidPortName(name)) out.push(issue(child(pp, 'name'), 'Invalid value', m, name));
            if (names.has(name)) out.push(issue(child(pp, 'name'), 'Duplicate value', '', name));
            names.add(name);
          }
        }
      });
    });
  }
  const status = pod.status;
  if (isObj(status)) {
    if (status.podIP !== undefined && status.podIP !== '') checkIP(status.podIP, 'status.podIP', out);
    const families = new Set<number>();
    const podIPs = checkArray(status.podIPs, 'status.podIPs', out);
    podIPs.forEach((p, i) => {
      const f = checkIP(isObj(p) ? p.ip : p, child(index('status.podIPs', i), 'ip'), out);
      if (f !== undefined) {
        if (families.has(f)) out.push(issue(index('status.podIPs', i), 'Invalid value', 'may specify no more than one IP for each IP family', (p as Obj).ip));
        families.add(f);
      }
    });
    const first = podIPs[0];
    if (typeof status.podIP === 'string' && status.podIP !== '' && isObj(first) && first.ip !== status.podIP) {
      out.push(issue('status.podIPs[0].ip', 'Invalid value', 'must equal status.podIP', first.ip));
    }
    if (status.hostIP !== undefined && status.hostIP !== '') checkIP(status.hostIP, 'status.hostIP', out);
    checkArray(status.hostIPs, 'status.hostIPs', out).forEach((h, i) => {
      checkIP(isObj(h) ? h.ip : h, child(index('status.hostIPs', i), 'ip'), out);
    });
  }
  return out;
}

const IP_ADDRESS_TYPES = ['InternalIP', 'ExternalIP'];

export function validateNode(node: Obj): FieldIssue[] {
  const out: FieldIssue[] = [];
  if (!isObj(node.status)) return out;
  checkArray(node.status.addresses, 'status.addresses', out).forEach((a, i) => {
    const ap = index('status.addresses', i);
    if (!isObj(a)) return void out.push(issue(ap, 'Invalid value', 'must be of type object', a));
    if (typeof a.type !== 'string' || a.type === '') out.push(issue(child(ap, 'type'), 'Required value', ''));
    if (typeof a.address !== 'string' || a.address === '') out.push(issue(child(ap, 'address'), 'Required value', ''));
    else if (IP_ADDRESS_TYPES.includes(a.type as string)) checkIP(a.address, child(ap, 'address'), out);
  });
  return out;
}

export function validateService(svc: Obj): FieldIssue[] {
  const out: FieldIssue[] = [];
  if (!isObj(svc.spec)) return [issue('spec', 'Required value', '')];
  const spec = svc.spec;
  const ipOrNone = (v: unknown, path: string): void => {
    if (v !== undefined && v !== '' && v !== 'None') checkIP(v, path, out);
  };
  ipOrNone(spec.clusterIP, 'spec.clusterIP');
  checkArray(spec.clusterIPs, 'spec.clusterIPs', out).forEach((ip, i) => ipOrNone(ip, index('spec.clusterIPs', i)));
  checkArray(spec.ports, 'spec.ports', out).forEach((p, i) => {
    const pp = index('spec.ports', i);
    if (!isObj(p)) return void out.push(issue(pp, 'Invalid value', 'must be of type object', p));
    checkPortNumber(p.port, child(pp, 'port'), out, true);
    checkProtocol(p, pp, out);
    if (typeof p.targetPort === 'number') checkPortNumber(p.targetPort, child(pp, 'targetPort'), out, false);
    else if (typeof p.targetPort === 'string')
      for (const m of isValidPortName(p.targetPort)) out.push(issue(child(pp, 'targetPort'), 'Invalid value', m, p.targetPort));
  });
  return out;
}

const ADDRESS_TYPES: Record<string, number | undefined> = { IPv4: 4, IPv6: 6, FQDN: undefined };

export function validateEndpointSlice(es: Obj): FieldIssue[] {
  const out: FieldIssue[] = [];
  if (typeof es.addressType !== 'string' || !(es.addressType in ADDRESS_TYPES)) {
    out.push(issue('addressType', es.addressType === undefined ? 'Required value' : 'Unsupported value', 'supported values: "FQDN", "IPv4", "IPv6"', es.addressType));
  }
  const family = ADDRESS_TYPES[es.addressType as string];
  checkArray(es.endpoints, 'endpoints', out).forEach((e, i) => {
    const ep = index('endpoints', i);
    if (!isObj(e)) return void out.push(issue(ep, 'Invalid value', 'must be of type object', e));
    const addrs = checkArray(e.addresses, child(ep, 'addresses'), out);
    if (addrs.length === 0) out.push(issue(child(ep, 'addresses'), 'Required value', 'must contain at least 1 address'));
    if (family === undefined) return;
    addrs.forEach((a, j) => {
      const f = checkIP(a, index(child(ep, 'addresses'), j), out);
      if (f !== undefined && f !== family) out.push(issue(index(child(ep, 'addresses'), j), 'Invalid value', `must be an ${es.addressType as string} address`, a));
    });
  });
  checkArray(es.ports, 'ports', out).forEach((p, i) => {
    const pp = index('ports', i);
    if (!isObj(p)) return void out.push(issue(pp, 'Invalid value', 'must be of type object', p));
    if (p.port !== undefined && p.port !== null) checkPortNumber(p.port, child(pp, 'port'), out, false);
    checkProtocol(p, pp, out);
  });
  return out;
}

// Wire types of every object dnsgate accepts, as they appear in manifests and from the API server.
// Field names and optionality follow the upstream Go types / CRDs; the validator (src/api/validate*)
// is what guarantees that a value of these types is well-formed.

export interface ObjectMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
}

export interface TypeMeta<G extends string, K extends string> {
  apiVersion: G;
  kind: K;
}

// ---------------------------------------------------------------- apimachinery

export type LabelSelectorOperator = 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';

export interface LabelSelectorRequirement {
  key: string;
  operator: LabelSelectorOperator;
  values?: string[];
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

export type Protocol = 'TCP' | 'UDP' | 'SCTP';

/** intstr.IntOrString: a port number or an IANA_SVC_NAME (named port). */
export type IntOrString = number | string;

// ---------------------------------------------------------------- core/v1 cluster state

export interface Namespace extends TypeMeta<'v1', 'Namespace'> {
  metadata: ObjectMeta;
}

export interface ContainerPort {
  name?: string;
  containerPort: number;
  protocol?: Protocol; // default TCP
  hostPort?: number;
}

export interface Container {
  name: string;
  image?: string;
  ports?: ContainerPort[];
}

export interface PodIP {
  ip: string;
}

export interface Pod extends TypeMeta<'v1', 'Pod'> {
  metadata: ObjectMeta & { namespace: string };
  spec: {
    nodeName?: string;
    hostNetwork?: boolean;
    containers: Container[];
    initContainers?: Container[];
  };
  status?: {
    phase?: string;
    podIP?: string;
    podIPs?: PodIP[];
    /** The node's primary IP as the kubelet saw it; with hostIPs, what identifies the pod's node. */
    hostIP?: string;
    hostIPs?: PodIP[];
  };
}

export type NodeAddressType = 'InternalIP' | 'ExternalIP' | 'Hostname' | 'InternalDNS' | 'ExternalDNS';

export interface Node extends TypeMeta<'v1', 'Node'> {
  metadata: ObjectMeta;
  status?: {
    addresses?: { type: NodeAddressType | string; address: string }[];
  };
}

export interface ServicePort {
  name?: string;
  protocol?: Protocol;
  port: number;
  targetPort?: IntOrString;
}

export interface Service extends TypeMeta<'v1', 'Service'> {
  metadata: ObjectMeta & { namespace: string };
  spec: {
    type?: string;
    selector?: Record<string, string>;
    clusterIP?: string;
    clusterIPs?: string[];
    ports?: ServicePort[];
  };
}

export interface EndpointSlice extends TypeMeta<'discovery.k8s.io/v1', 'EndpointSlice'> {
  metadata: ObjectMeta & { namespace: string };
  addressType: 'IPv4' | 'IPv6' | 'FQDN';
  endpoints: {
    addresses: string[];
    conditions?: { ready?: boolean; serving?: boolean; terminating?: boolean };
    targetRef?: { kind?: string; namespace?: string; name?: string; uid?: string };
    nodeName?: string;
  }[];
  ports?: { name?: string; protocol?: Protocol; port?: number; appProtocol?: string }[];
}

// ---------------------------------------------------------------- networking.k8s.io/v1 NetworkPolicy

export type PolicyType = 'Ingress' | 'Egress';

export interface IPBlock {
  cidr: string;
  except?: string[];
}

export interface NetworkPolicyPeer {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: IPBlock;
}

export interface NetworkPolicyPort {
  protocol?: Protocol; // default TCP
  port?: IntOrString;
  endPort?: number;
}

export interface NetworkPolicyIngressRule {
  from?: NetworkPolicyPeer[];
  ports?: NetworkPolicyPort[];
}

export interface NetworkPolicyEgressRule {
  to?: NetworkPolicyPeer[];
  ports?: NetworkPolicyPort[];
}

export interface NetworkPolicySpec {
  podSelector: LabelSelector;
  policyTypes?: PolicyType[];
  ingress?: NetworkPolicyIngressRule[];
  egress?: NetworkPolicyEgressRule[];
}

export interface NetworkPolicy extends TypeMeta<'networking.k8s.io/v1', 'NetworkPolicy'> {
  metadata: ObjectMeta & { namespace: string };
  spec: NetworkPolicySpec;
}

// ---------------------------------------------------------------- networking.k8s.aws/v1alpha1

/** ApplicationNetworkPolicy egress peer: a NetworkPolicy peer or a list of domain-name patterns. */
export interface ApplicationNetworkPolicyPeer extends NetworkPolicyPeer {
  domainNames?: string[];
}

export interface ApplicationNetworkPolicyEgressRule {
  to?: ApplicationNetworkPolicyPeer[];
  ports?: NetworkPolicyPort[];
}

export interface ApplicationNetworkPolicySpec {
  podSelector: LabelSelector;
  policyTypes?: PolicyType[];
  ingress?: NetworkPolicyIngressRule[];
  egress?: ApplicationNetworkPolicyEgressRule[];
}

export interface ApplicationNetworkPolicy
  extends TypeMeta<'networking.k8s.aws/v1alpha1', 'ApplicationNetworkPolicy'> {
  metadata: ObjectMeta & { namespace: string };
  spec: ApplicationNetworkPolicySpec;
}

export type Tier = 'Admin' | 'Baseline';
export type RuleAction = 'Accept' | 'Deny' | 'Pass';

export interface NamespacedPod {
  /** Required by the EKS CRD; optional upstream, where absent means `{}` (every namespace). */
  namespaceSelector?: LabelSelector;
  podSelector: LabelSelector;
}

/** Subject of either CNP shape: exactly one of the two fields. */
export interface ClusterNetworkPolicySubject {
  namespaces?: LabelSelector;
  pods?: NamespacedPod;
}

/** EKS port entry: exactly one of the three fields. */
export interface EksPort {
  portNumber?: { protocol: Protocol; port: number };
  portRange?: { protocol: Protocol; start: number; end: number };
  namedPort?: string;
}

export interface EksIngressPeer {
  namespaces?: LabelSelector;
  pods?: NamespacedPod;
}

export interface EksEgressPeer {
  namespaces?: LabelSelector;
  pods?: NamespacedPod;
  nodes?: LabelSelector;
  networks?: string[];
  domainNames?: string[];
}

export interface EksIngressRule {
  name?: string;
  action: RuleAction;
  from: EksIngressPeer[];
  ports?: EksPort[];
}

export interface EksEgressRule {
  name?: string;
  action: RuleAction;
  to: EksEgressPeer[];
  ports?: EksPort[];
}

export interface EksClusterNetworkPolicy
  extends TypeMeta<'networking.k8s.aws/v1alpha1', 'ClusterNetworkPolicy'> {
  metadata: ObjectMeta;
  spec: {
    tier: Tier;
    priority: number;
    subject: ClusterNetworkPolicySubject;
    ingress?: EksIngressRule[];
    egress?: EksEgressRule[];
  };
}

// ---------------------------------------------------------------- policy.networking.k8s.io/v1alpha2

export interface UpstreamPort {
  number?: number;
  range?: { start: number; end: number };
}

export interface UpstreamProtocolMatch {
  destinationPort?: UpstreamPort;
}

/** Exactly one field set. */
export interface UpstreamProtocol {
  tcp?: UpstreamProtocolMatch;
  udp?: UpstreamProtocolMatch;
  sctp?: UpstreamProtocolMatch;
  destinationNamedPort?: string;
}

export interface UpstreamIngressPeer {
  namespaces?: LabelSelector;
  pods?: NamespacedPod;
}

export interface UpstreamEgressPeer {
  namespaces?: LabelSelector;
  pods?: NamespacedPod;
  nodes?: LabelSelector;
  networks?: string[];
  domainNames?: string[];
}

export interface UpstreamIngressRule {
  name?: string;
  action: RuleAction;
  from: UpstreamIngressPeer[];
  protocols?: UpstreamProtocol[];
}

export interface UpstreamEgressRule {
  name?: string;
  action: RuleAction;
  to: UpstreamEgressPeer[];
  protocols?: UpstreamProtocol[];
}

export interface UpstreamClusterNetworkPolicy
  extends TypeMeta<'policy.networking.k8s.io/v1alpha2', 'ClusterNetworkPolicy'> {
  metadata: ObjectMeta;
  spec: {
    tier: Tier;
    priority: number;
    subject: ClusterNetworkPolicySubject;
    ingress?: UpstreamIngressRule[];
    egress?: UpstreamEgressRule[];
  };
}

export type ClusterNetworkPolicy = EksClusterNetworkPolicy | UpstreamClusterNetworkPolicy;

export type PolicyObject = NetworkPolicy | ApplicationNetworkPolicy | ClusterNetworkPolicy;
export type StateObject = Namespace | Pod | Node | Service | EndpointSlice;
export type KnownObject = PolicyObject | StateObject;

// ---------------------------------------------------------------- the whole cluster state

/** Everything the evaluator and the compiler look at. Produced by the loader or the informers. */
export interface ClusterState {
  namespaces: Namespace[];
  pods: Pod[];
  nodes: Node[];
  services: Service[];
  endpointSlices: EndpointSlice[];
  networkPolicies: NetworkPolicy[];
  applicationNetworkPolicies: ApplicationNetworkPolicy[];
  clusterNetworkPolicies: ClusterNetworkPolicy[];
}

export function emptyClusterState(): ClusterState {
  return {
    namespaces: [],
    pods: [],
    nodes: [],
    services: [],
    endpointSlices: [],
    networkPolicies: [],
    applicationNetworkPolicies: [],
    clusterNetworkPolicies: [],
  };
}

/** "Kind/namespace/name" or "Kind/name": how every message names an object. */
export function objectRef(obj: { kind: string; metadata: { name: string; namespace?: string } }): string {
  const { kind, metadata } = obj;
  return metadata.namespace ? `${kind}/${metadata.namespace}/${metadata.name}` : `${kind}/${metadata.name}`;
}

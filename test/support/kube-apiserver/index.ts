export { KubeApiServer, type AddUserOptions, type KubeApiServerOptions } from './kube-api-server.js';
export { Faults, type FailedRequest, type FailureStatus, type InjectedFailure } from './faults.js';
export type { ConnectionStats } from './connection-counts.js';
export { selfSignedCertificate, type Certificate } from './self-signed-certificate.js';
export { parseMicroTime, formatMicroTime, formatTime, MICRO_TIME_LAYOUT } from './micro-time.js';
export type { Status, StatusDetails, StatusCause } from './status.js';
export type {
  ContainerState,
  ContainerStateTerminated,
  ContainerStatus,
  Lease,
  LeaseMetadata,
  LeaseSpec,
  ManagedFieldsEntry,
  Pod,
  PodCondition,
  PodMetadata,
  PodStatus,
  RbacRule,
  RequestEventInfo,
  Verb,
} from './types.js';
export { VERBS } from './types.js';
export { PodLifecycle, type CreatePodOptions, type RestartContainerOptions, type StopContainersOptions } from './pod-lifecycle.js';
export type { ContainerOptions, PodOptions } from './pod-status.js';

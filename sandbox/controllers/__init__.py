"""The simulated control plane: kube-controller-manager's controllers, the scheduler and one kubelet.

Each controller is a `ReconcileLoop`, which is a sandbox `Controller` (`await controller(api)` runs
it until cancelled), writing through the same `ResourceAPI` as HTTP clients, with the real field
managers (`kube-controller-manager`, `kubelet`; the scheduler binds through storage as BindingREST
does). `controller_set(settings)` builds one of each; `default_controllers()` is what a sandbox runs
unless told otherwise:

    controllers = controller_set(ControllerSettings(pod_start_delay=0.01))
    with SandboxThread(controllers=controllers.all()) as sandbox:
        ...
        sandbox.run(lambda api: controllers.cronjob.tick(now))
"""

from __future__ import annotations

from dataclasses import dataclass

from sandbox.controllers.apiservices import CRDRegistrationController
from sandbox.controllers.cronjob import CronJobController
from sandbox.controllers.daemonset import DaemonSetController
from sandbox.controllers.deployment import DeploymentController
from sandbox.controllers.disruption import DisruptionController
from sandbox.controllers.endpoints import EndpointsController
from sandbox.controllers.endpointslices import EndpointSliceController
from sandbox.controllers.garbagecollector import GarbageCollector
from sandbox.controllers.job import JobController
from sandbox.controllers.kubelet import Kubelet
from sandbox.controllers.loop import ReconcileLoop
from sandbox.controllers.namespacedefaults import RootCAPublisher, ServiceAccountsController
from sandbox.controllers.nodes import NodeLifecycleController
from sandbox.controllers.protection import StorageProtection
from sandbox.controllers.replicaset import ReplicaSetController
from sandbox.controllers.replicationcontroller import ReplicationManager
from sandbox.controllers.resourcequota import ResourceQuotaController
from sandbox.controllers.scheduler import Scheduler
from sandbox.controllers.settings import ControllerSettings
from sandbox.controllers.statefulset import StatefulSetController
from sandbox.controllers.volumes import VolumeBinder


@dataclass(frozen=True)
class ControllerSet:
    """One instance of every controller, sharing one set of settings."""

    settings: ControllerSettings
    kubelet: Kubelet
    scheduler: Scheduler
    deployment: DeploymentController
    replicaset: ReplicaSetController
    statefulset: StatefulSetController
    daemonset: DaemonSetController
    job: JobController
    cronjob: CronJobController
    endpoints: EndpointsController
    volumes: VolumeBinder
    storage_protection: StorageProtection
    garbage_collector: GarbageCollector
    service_accounts: ServiceAccountsController
    root_ca_publisher: RootCAPublisher
    node_lifecycle: NodeLifecycleController
    replication: ReplicationManager
    endpoint_slices: EndpointSliceController
    disruption: DisruptionController
    resource_quota: ResourceQuotaController
    crd_registration: CRDRegistrationController

    def all(self) -> list[ReconcileLoop]:
        """Every controller, in start order: the node first, so pods have somewhere to go."""
        return [
            self.kubelet,
            self.node_lifecycle,
            self.scheduler,
            self.garbage_collector,
            self.service_accounts,
            self.root_ca_publisher,
            self.deployment,
            self.replicaset,
            self.replication,
            self.statefulset,
            self.daemonset,
            self.job,
            self.cronjob,
            self.endpoints,
            self.endpoint_slices,
            self.disruption,
            self.resource_quota,
            self.crd_registration,
            self.volumes,
            self.storage_protection,
        ]


def controller_set(settings: ControllerSettings | None = None) -> ControllerSet:
    chosen = settings or ControllerSettings()
    return ControllerSet(
        settings=chosen,
        kubelet=Kubelet(chosen),
        scheduler=Scheduler(chosen),
        deployment=DeploymentController(chosen),
        replicaset=ReplicaSetController(chosen),
        statefulset=StatefulSetController(chosen),
        daemonset=DaemonSetController(chosen),
        job=JobController(chosen),
        cronjob=CronJobController(chosen),
        endpoints=EndpointsController(chosen),
        volumes=VolumeBinder(chosen),
        storage_protection=StorageProtection(chosen),
        garbage_collector=GarbageCollector(chosen),
        service_accounts=ServiceAccountsController(chosen),
        root_ca_publisher=RootCAPublisher(chosen),
        node_lifecycle=NodeLifecycleController(chosen),
        replication=ReplicationManager(chosen),
        endpoint_slices=EndpointSliceController(chosen),
        disruption=DisruptionController(chosen),
        resource_quota=ResourceQuotaController(chosen),
        crd_registration=CRDRegistrationController(chosen),
    )


def default_controllers(settings: ControllerSettings | None = None) -> list[ReconcileLoop]:
    """What a sandbox runs by default; `sandbox.server.default_controllers` should return these."""
    return controller_set(settings).all()


__all__ = [
    "CRDRegistrationController",
    "ControllerSet",
    "ControllerSettings",
    "CronJobController",
    "DaemonSetController",
    "DeploymentController",
    "DisruptionController",
    "EndpointSliceController",
    "EndpointsController",
    "GarbageCollector",
    "JobController",
    "Kubelet",
    "NodeLifecycleController",
    "ReconcileLoop",
    "ReplicaSetController",
    "ReplicationManager",
    "ResourceQuotaController",
    "RootCAPublisher",
    "Scheduler",
    "ServiceAccountsController",
    "StatefulSetController",
    "StorageProtection",
    "VolumeBinder",
    "controller_set",
    "default_controllers",
]

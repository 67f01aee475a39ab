"""Protobuf field facts of the built-in kinds, for decoding `application/vnd.kubernetes.protobuf` bodies.

kubectl 1.32 and newer send typed creates (`kubectl create namespace`, `create deployment`, ...) as
protobuf, which a real API server accepts. Each message maps field numbers to the JSON field name, a
kind, and flags, as "NUMBER NAME KIND [FLAGS]" entries:

- KIND is s, i, b, y (bytes), d, f, time, duration, intorstring, quantity, raw, map:KEY:VALUE, or the
  name of another message here;
- FLAGS: `*` repeated, `^` inlined into the parent in JSON, `!` kept when zero (a Go pointer, or a
  field without `omitempty`, which Go's JSON encoding prints even when empty).

The numbers and names are the wire contract of k8s.io/api and k8s.io/apimachinery (their
generated.proto files and Go struct tags), collected for the messages these kinds reach.
"""

from __future__ import annotations

from sandbox.protobuf_schema_admin import ADMIN_MESSAGES

MESSAGES: dict[str, str | tuple[str, ...]] = {
    "apps.v1.DaemonSet": (
        "1 metadata meta.v1.ObjectMeta, 2 spec apps.v1.DaemonSetSpec, 3 status apps.v1.DaemonSetStatus"
    ),
    "apps.v1.DaemonSetSpec": (
        "1 selector meta.v1.LabelSelector !, 2 template core.v1.PodTemplateSpec !, 3 updateStrategy "
        "apps.v1.DaemonSetUpdateStrategy, 4 minReadySeconds i, 6 revisionHistoryLimit i !"
    ),
    "apps.v1.DaemonSetUpdateStrategy": "1 type s, 2 rollingUpdate apps.v1.RollingUpdateDaemonSet !",
    "apps.v1.Deployment": (
        "1 metadata meta.v1.ObjectMeta, 2 spec apps.v1.DeploymentSpec, 3 status apps.v1.DeploymentStatus"
    ),
    "apps.v1.DeploymentSpec": (
        "1 replicas i !, 2 selector meta.v1.LabelSelector !, 3 template core.v1.PodTemplateSpec !, 4 "
        "strategy apps.v1.DeploymentStrategy, 5 minReadySeconds i, 6 revisionHistoryLimit i !, 7 paused b, "
        "9 progressDeadlineSeconds i !"
    ),
    "apps.v1.DeploymentStrategy": "1 type s, 2 rollingUpdate apps.v1.RollingUpdateDeployment !",
    "apps.v1.ReplicaSet": (
        "1 metadata meta.v1.ObjectMeta, 2 spec apps.v1.ReplicaSetSpec, 3 status apps.v1.ReplicaSetStatus"
    ),
    "apps.v1.ReplicaSetSpec": (
        "1 replicas i !, 2 selector meta.v1.LabelSelector !, 3 template core.v1.PodTemplateSpec, 4 "
        "minReadySeconds i"
    ),
    "apps.v1.RollingUpdateDaemonSet": "1 maxUnavailable intorstring !, 2 maxSurge intorstring !",
    "apps.v1.RollingUpdateDeployment": "1 maxUnavailable intorstring !, 2 maxSurge intorstring !",
    "apps.v1.RollingUpdateStatefulSetStrategy": "1 partition i !, 2 maxUnavailable intorstring !",
    "apps.v1.StatefulSet": (
        "1 metadata meta.v1.ObjectMeta, 2 spec apps.v1.StatefulSetSpec, 3 status apps.v1.StatefulSetStatus"
    ),
    "apps.v1.StatefulSetOrdinals": "1 start i !",
    "apps.v1.StatefulSetPersistentVolumeClaimRetentionPolicy": "1 whenDeleted s, 2 whenScaled s",
    "apps.v1.StatefulSetSpec": (
        "1 replicas i !, 2 selector meta.v1.LabelSelector !, 3 template core.v1.PodTemplateSpec !, 4 "
        "volumeClaimTemplates core.v1.PersistentVolumeClaim *, 5 serviceName s !, 6 podManagementPolicy s, "
        "7 updateStrategy apps.v1.StatefulSetUpdateStrategy, 8 revisionHistoryLimit i !, 9 minReadySeconds "
        "i, 10 persistentVolumeClaimRetentionPolicy apps.v1.StatefulSetPersistentVolumeClaimRetentionPolicy"
        " !, 11 ordinals apps.v1.StatefulSetOrdinals !"
    ),
    "apps.v1.StatefulSetUpdateStrategy": (
        "1 type s, 2 rollingUpdate apps.v1.RollingUpdateStatefulSetStrategy !"
    ),
    "autoscaling.v2.ContainerResourceMetricSource": (
        "1 name s !, 2 target autoscaling.v2.MetricTarget !, 3 container s !"
    ),
    "autoscaling.v1.CrossVersionObjectReference": "1 kind s !, 2 name s !, 3 apiVersion s",
    "autoscaling.v1.HorizontalPodAutoscaler": (
        "1 metadata meta.v1.ObjectMeta, 2 spec autoscaling.v1.HorizontalPodAutoscalerSpec, 3 status "
        "autoscaling.v1.HorizontalPodAutoscalerStatus"
    ),
    "autoscaling.v1.HorizontalPodAutoscalerSpec": (
        "1 scaleTargetRef autoscaling.v1.CrossVersionObjectReference !, 2 minReplicas i !, 3 maxReplicas i "
        "!, 4 targetCPUUtilizationPercentage i !"
    ),
    "autoscaling.v1.HorizontalPodAutoscalerStatus": (
        "1 observedGeneration i !, 2 lastScaleTime time, 3 currentReplicas i !, 4 desiredReplicas i !, 5 "
        "currentCPUUtilizationPercentage i !"
    ),
    "autoscaling.v2.CrossVersionObjectReference": "1 kind s !, 2 name s !, 3 apiVersion s",
    "autoscaling.v2.ExternalMetricSource": (
        "1 metric autoscaling.v2.MetricIdentifier !, 2 target autoscaling.v2.MetricTarget !"
    ),
    "autoscaling.v2.HPAScalingPolicy": "1 type s !, 2 value i !, 3 periodSeconds i !",
    "autoscaling.v2.HPAScalingRules": (
        "1 selectPolicy s !, 2 policies autoscaling.v2.HPAScalingPolicy *, 3 stabilizationWindowSeconds i "
        "!, 4 tolerance quantity !"
    ),
    "autoscaling.v2.HorizontalPodAutoscaler": (
        "1 metadata meta.v1.ObjectMeta, 2 spec autoscaling.v2.HorizontalPodAutoscalerSpec, 3 status "
        "autoscaling.v2.HorizontalPodAutoscalerStatus"
    ),
    "autoscaling.v2.HorizontalPodAutoscalerBehavior": (
        "1 scaleUp autoscaling.v2.HPAScalingRules !, 2 scaleDown autoscaling.v2.HPAScalingRules !"
    ),
    "autoscaling.v2.HorizontalPodAutoscalerSpec": (
        "1 scaleTargetRef autoscaling.v2.CrossVersionObjectReference !, 2 minReplicas i !, 3 maxReplicas i "
        "!, 4 metrics autoscaling.v2.MetricSpec *, 5 behavior "
        "autoscaling.v2.HorizontalPodAutoscalerBehavior !"
    ),
    "autoscaling.v2.MetricIdentifier": "1 name s !, 2 selector meta.v1.LabelSelector !",
    "autoscaling.v2.MetricSpec": (
        "1 type s !, 2 object autoscaling.v2.ObjectMetricSource !, 3 pods autoscaling.v2.PodsMetricSource "
        "!, 4 resource autoscaling.v2.ResourceMetricSource !, 5 external "
        "autoscaling.v2.ExternalMetricSource !, 7 containerResource "
        "autoscaling.v2.ContainerResourceMetricSource !"
    ),
    "autoscaling.v2.MetricTarget": (
        "1 type s !, 2 value quantity !, 3 averageValue quantity !, 4 averageUtilization i !"
    ),
    "autoscaling.v2.ObjectMetricSource": (
        "1 describedObject autoscaling.v2.CrossVersionObjectReference !, 2 target "
        "autoscaling.v2.MetricTarget !, 3 metric autoscaling.v2.MetricIdentifier !"
    ),
    "autoscaling.v2.PodsMetricSource": (
        "1 metric autoscaling.v2.MetricIdentifier !, 2 target autoscaling.v2.MetricTarget !"
    ),
    "autoscaling.v2.ResourceMetricSource": "1 name s !, 2 target autoscaling.v2.MetricTarget !",
    "batch.v1.CronJob": (
        "1 metadata meta.v1.ObjectMeta, 2 spec batch.v1.CronJobSpec, 3 status batch.v1.CronJobStatus"
    ),
    "batch.v1.CronJobSpec": (
        "1 schedule s !, 2 startingDeadlineSeconds i !, 3 concurrencyPolicy s, 4 suspend b !, 5 jobTemplate"
        " batch.v1.JobTemplateSpec !, 6 successfulJobsHistoryLimit i !, 7 failedJobsHistoryLimit i !, 8 "
        "timeZone s !"
    ),
    "batch.v1.Job": "1 metadata meta.v1.ObjectMeta, 2 spec batch.v1.JobSpec, 3 status batch.v1.JobStatus",
    "batch.v1.JobSchedulingConfiguration": (
        "1 schedulingPolicy k8s.io.api.scheduling.v1alpha3.WorkloadPodGroupSchedulingPolicy !, 2 "
        "schedulingConstraints k8s.io.api.scheduling.v1alpha3.WorkloadPodGroupSchedulingConstraints !, 3 "
        "disruptionMode k8s.io.api.scheduling.v1alpha3.WorkloadPodGroupDisruptionMode !, 4 resourceClaims "
        "k8s.io.api.scheduling.v1alpha3.WorkloadPodGroupResourceClaim *"
    ),
    "batch.v1.JobSpec": (
        "1 parallelism i !, 2 completions i !, 3 activeDeadlineSeconds i !, 4 selector "
        "meta.v1.LabelSelector !, 5 manualSelector b !, 6 template core.v1.PodTemplateSpec !, 7 "
        "backoffLimit i !, 8 ttlSecondsAfterFinished i !, 9 completionMode s !, 10 suspend b !, 11 "
        "podFailurePolicy batch.v1.PodFailurePolicy !, 12 backoffLimitPerIndex i !, 13 maxFailedIndexes i "
        "!, 14 podReplacementPolicy s !, 15 managedBy s !, 16 successPolicy batch.v1.SuccessPolicy !, 17 "
        "scheduling batch.v1.JobSchedulingConfiguration !"
    ),
    "batch.v1.JobTemplateSpec": "1 metadata meta.v1.ObjectMeta, 2 spec batch.v1.JobSpec",
    "batch.v1.PodFailurePolicy": "1 rules batch.v1.PodFailurePolicyRule *!",
    "batch.v1.PodFailurePolicyOnExitCodesRequirement": "1 containerName s !, 2 operator s !, 3 values i *!",
    "batch.v1.PodFailurePolicyOnPodConditionsPattern": "1 type s !, 2 status s !",
    "batch.v1.PodFailurePolicyRule": (
        "1 action s !, 2 onExitCodes batch.v1.PodFailurePolicyOnExitCodesRequirement !, 3 onPodConditions "
        "batch.v1.PodFailurePolicyOnPodConditionsPattern *"
    ),
    "batch.v1.SuccessPolicy": "1 rules batch.v1.SuccessPolicyRule *!",
    "batch.v1.SuccessPolicyRule": "1 succeededIndexes s !, 2 succeededCount i !",
    "core.v1.AWSElasticBlockStoreVolumeSource": "1 volumeID s !, 2 fsType s, 3 partition i, 4 readOnly b",
    "core.v1.Affinity": (
        "1 nodeAffinity core.v1.NodeAffinity !, 2 podAffinity core.v1.PodAffinity !, 3 podAntiAffinity "
        "core.v1.PodAntiAffinity !"
    ),
    "core.v1.AppArmorProfile": "1 type s !, 2 localhostProfile s !",
    "core.v1.AzureDiskVolumeSource": (
        "1 diskName s !, 2 diskURI s !, 3 cachingMode s !, 4 fsType s !, 5 readOnly b !, 6 kind s !"
    ),
    "core.v1.AzureFileVolumeSource": "1 secretName s !, 2 shareName s !, 3 readOnly b",
    "core.v1.CSIVolumeSource": (
        "1 driver s !, 2 readOnly b !, 3 fsType s !, 4 volumeAttributes map:s:s, 5 nodePublishSecretRef "
        "core.v1.LocalObjectReference !"
    ),
    "core.v1.Capabilities": "1 add s *, 2 drop s *",
    "core.v1.CephFSVolumeSource": (
        "1 monitors s *!, 2 path s, 3 user s, 4 secretFile s, 5 secretRef core.v1.LocalObjectReference !, 6"
        " readOnly b"
    ),
    "core.v1.CinderVolumeSource": (
        "1 volumeID s !, 2 fsType s, 3 readOnly b, 4 secretRef core.v1.LocalObjectReference !"
    ),
    "core.v1.ClientIPConfig": "1 timeoutSeconds i !",
    "core.v1.ClusterTrustBundleProjection": (
        "1 name s !, 2 signerName s !, 3 labelSelector meta.v1.LabelSelector !, 4 path s !, 5 optional b !,"
        " 6 user i !"
    ),
    "core.v1.ConfigMap": (
        "1 metadata meta.v1.ObjectMeta, 2 data map:s:s, 3 binaryData map:s:y, 4 immutable b !"
    ),
    "core.v1.ConfigMapEnvSource": "1 localObjectReference core.v1.LocalObjectReference ^!, 2 optional b !",
    "core.v1.ConfigMapKeySelector": (
        "1 localObjectReference core.v1.LocalObjectReference ^!, 2 key s !, 3 optional b !"
    ),
    "core.v1.ConfigMapProjection": (
        "1 localObjectReference core.v1.LocalObjectReference ^!, 2 items core.v1.KeyToPath *, 4 optional b !"
    ),
    "core.v1.ConfigMapVolumeSource": (
        "1 localObjectReference core.v1.LocalObjectReference ^!, 2 items core.v1.KeyToPath *, 3 defaultMode"
        " i !, 4 optional b !, 5 defaultUser i !"
    ),
    "core.v1.Container": (
        "1 name s !, 2 image s, 3 command s *, 4 args s *, 5 workingDir s, 6 ports core.v1.ContainerPort *,"
        " 7 env core.v1.EnvVar *, 8 resources core.v1.ResourceRequirements, 9 volumeMounts "
        "core.v1.VolumeMount *, 10 livenessProbe core.v1.Probe !, 11 readinessProbe core.v1.Probe !, 12 "
        "lifecycle core.v1.Lifecycle !, 13 terminationMessagePath s, 14 imagePullPolicy s, 15 "
        "securityContext core.v1.SecurityContext !, 16 stdin b, 17 stdinOnce b, 18 tty b, 19 envFrom "
        "core.v1.EnvFromSource *, 20 terminationMessagePolicy s, 21 volumeDevices core.v1.VolumeDevice *, "
        "22 startupProbe core.v1.Probe !, 23 resizePolicy core.v1.ContainerResizePolicy *, 24 restartPolicy"
        " s !, 25 restartPolicyRules core.v1.ContainerRestartRule *"
    ),
    "core.v1.ContainerPort": "1 name s, 2 hostPort i, 3 containerPort i !, 4 protocol s, 5 hostIP s",
    "core.v1.ContainerResizePolicy": "1 resourceName s !, 2 restartPolicy s !",
    "core.v1.ContainerRestartRule": "1 action s, 2 exitCodes core.v1.ContainerRestartRuleOnExitCodes !",
    "core.v1.ContainerRestartRuleOnExitCodes": "1 operator s, 2 values i *",
    "core.v1.DownwardAPIProjection": "1 items core.v1.DownwardAPIVolumeFile *",
    "core.v1.DownwardAPIVolumeFile": (
        "1 path s !, 2 fieldRef core.v1.ObjectFieldSelector !, 3 resourceFieldRef "
        "core.v1.ResourceFieldSelector !, 4 mode i !, 5 user i !"
    ),
    "core.v1.DownwardAPIVolumeSource": (
        "1 items core.v1.DownwardAPIVolumeFile *, 2 defaultMode i !, 3 defaultUser i !"
    ),
    "core.v1.EmptyDirVolumeSource": "1 medium s, 2 sizeLimit quantity !, 3 mode i !",
    "core.v1.EnvFromSource": (
        "1 prefix s, 2 configMapRef core.v1.ConfigMapEnvSource !, 3 secretRef core.v1.SecretEnvSource !"
    ),
    "core.v1.EnvVar": "1 name s !, 2 value s, 3 valueFrom core.v1.EnvVarSource !",
    "core.v1.EnvVarSource": (
        "1 fieldRef core.v1.ObjectFieldSelector !, 2 resourceFieldRef core.v1.ResourceFieldSelector !, 3 "
        "configMapKeyRef core.v1.ConfigMapKeySelector !, 4 secretKeyRef core.v1.SecretKeySelector !, 5 "
        "fileKeyRef core.v1.FileKeySelector !"
    ),
    "core.v1.EphemeralContainer": (
        "1 ephemeralContainerCommon core.v1.EphemeralContainerCommon ^!, 2 targetContainerName s"
    ),
    "core.v1.EphemeralContainerCommon": (
        "1 name s !, 2 image s, 3 command s *, 4 args s *, 5 workingDir s, 6 ports core.v1.ContainerPort *,"
        " 7 env core.v1.EnvVar *, 8 resources core.v1.ResourceRequirements, 9 volumeMounts "
        "core.v1.VolumeMount *, 10 livenessProbe core.v1.Probe !, 11 readinessProbe core.v1.Probe !, 12 "
        "lifecycle core.v1.Lifecycle !, 13 terminationMessagePath s, 14 imagePullPolicy s, 15 "
        "securityContext core.v1.SecurityContext !, 16 stdin b, 17 stdinOnce b, 18 tty b, 19 envFrom "
        "core.v1.EnvFromSource *, 20 terminationMessagePolicy s, 21 volumeDevices core.v1.VolumeDevice *, "
        "22 startupProbe core.v1.Probe !, 23 resizePolicy core.v1.ContainerResizePolicy *, 24 restartPolicy"
        " s !, 25 restartPolicyRules core.v1.ContainerRestartRule *"
    ),
    "core.v1.EphemeralVolumeSource": "1 volumeClaimTemplate core.v1.PersistentVolumeClaimTemplate !",
    "core.v1.EvictionResponder": "1 name s !, 2 priority i !",
    "core.v1.ExecAction": "1 command s *",
    "core.v1.FCVolumeSource": "1 targetWWNs s *, 2 lun i !, 3 fsType s, 4 readOnly b, 5 wwids s *",
    "core.v1.FileKeySelector": "1 volumeName s !, 2 path s !, 3 key s !, 4 optional b !",
    "core.v1.FlexVolumeSource": (
        "1 driver s !, 2 fsType s, 3 secretRef core.v1.LocalObjectReference !, 4 readOnly b, 5 options "
        "map:s:s"
    ),
    "core.v1.FlockerVolumeSource": "1 datasetName s, 2 datasetUUID s",
    "core.v1.GCEPersistentDiskVolumeSource": "1 pdName s !, 2 fsType s, 3 partition i, 4 readOnly b",
    "core.v1.GRPCAction": "1 port i !, 2 service s !, 3 mode s !",
    "core.v1.GitRepoVolumeSource": "1 repository s !, 2 revision s, 3 directory s",
    "core.v1.GlusterfsVolumeSource": "1 endpoints s !, 2 path s !, 3 readOnly b",
    "core.v1.HTTPGetAction": (
        "1 path s, 2 port intorstring !, 3 host s, 4 scheme s, 5 httpHeaders core.v1.HTTPHeader *, 6 "
        "protocol s !"
    ),
    "core.v1.HTTPHeader": "1 name s !, 2 value s !",
    "core.v1.HostAlias": "1 ip s !, 2 hostnames s *",
    "core.v1.HostPathVolumeSource": "1 path s !, 2 type s !",
    "core.v1.ISCSIVolumeSource": (
        "1 targetPortal s !, 2 iqn s !, 3 lun i !, 4 iscsiInterface s, 5 fsType s, 6 readOnly b, 7 portals "
        "s *, 8 chapAuthDiscovery b, 10 secretRef core.v1.LocalObjectReference !, 11 chapAuthSession b, 12 "
        "initiatorName s !"
    ),
    "core.v1.ImageVolumeSource": "1 reference s, 2 pullPolicy s",
    "core.v1.KeyToPath": "1 key s !, 2 path s !, 3 mode i !, 4 user i !",
    "core.v1.Lifecycle": (
        "1 postStart core.v1.LifecycleHandler !, 2 preStop core.v1.LifecycleHandler !, 3 stopSignal s !"
    ),
    "core.v1.LifecycleHandler": (
        "1 exec core.v1.ExecAction !, 2 httpGet core.v1.HTTPGetAction !, 3 tcpSocket "
        "core.v1.TCPSocketAction !, 4 sleep core.v1.SleepAction !"
    ),
    "core.v1.LocalObjectReference": "1 name s",
    "core.v1.NFSVolumeSource": "1 server s !, 2 path s !, 3 readOnly b",
    "core.v1.Namespace": (
        "1 metadata meta.v1.ObjectMeta, 2 spec core.v1.NamespaceSpec, 3 status core.v1.NamespaceStatus"
    ),
    "core.v1.NamespaceSpec": "1 finalizers s *",
    "core.v1.NodeAffinity": (
        "1 requiredDuringSchedulingIgnoredDuringExecution core.v1.NodeSelector !, 2 "
        "preferredDuringSchedulingIgnoredDuringExecution core.v1.PreferredSchedulingTerm *"
    ),
    "core.v1.NodeSelector": "1 nodeSelectorTerms core.v1.NodeSelectorTerm *!",
    "core.v1.NodeSelectorRequirement": "1 key s !, 2 operator s !, 3 values s *",
    "core.v1.NodeSelectorTerm": (
        "1 matchExpressions core.v1.NodeSelectorRequirement *, 2 matchFields "
        "core.v1.NodeSelectorRequirement *"
    ),
    "core.v1.ObjectFieldSelector": "1 apiVersion s, 2 fieldPath s !",
    "core.v1.ObjectReference": (
        "1 kind s, 2 namespace s, 3 name s, 4 uid s, 5 apiVersion s, 6 resourceVersion s, 7 fieldPath s"
    ),
    "core.v1.PersistentVolumeClaim": (
        "1 metadata meta.v1.ObjectMeta, 2 spec core.v1.PersistentVolumeClaimSpec, 3 status "
        "core.v1.PersistentVolumeClaimStatus"
    ),
    "core.v1.PersistentVolumeClaimSpec": (
        "1 accessModes s *, 2 resources core.v1.VolumeResourceRequirements, 3 volumeName s, 4 selector "
        "meta.v1.LabelSelector !, 5 storageClassName s !, 6 volumeMode s !, 7 dataSource "
        "core.v1.TypedLocalObjectReference !, 8 dataSourceRef core.v1.TypedObjectReference !, 9 "
        "volumeAttributesClassName s !"
    ),
    "core.v1.PersistentVolumeClaimTemplate": (
        "1 metadata meta.v1.ObjectMeta, 2 spec core.v1.PersistentVolumeClaimSpec !"
    ),
    "core.v1.PersistentVolumeClaimVolumeSource": "1 claimName s !, 2 readOnly b",
    "core.v1.PhotonPersistentDiskVolumeSource": "1 pdID s !, 2 fsType s",
    "core.v1.Pod": "1 metadata meta.v1.ObjectMeta, 2 spec core.v1.PodSpec, 3 status core.v1.PodStatus",
    "core.v1.PodAffinity": (
        "1 requiredDuringSchedulingIgnoredDuringExecution core.v1.PodAffinityTerm *, 2 "
        "preferredDuringSchedulingIgnoredDuringExecution core.v1.WeightedPodAffinityTerm *"
    ),
    "core.v1.PodAffinityTerm": (
        "1 labelSelector meta.v1.LabelSelector !, 2 namespaces s *, 3 topologyKey s !, 4 namespaceSelector "
        "meta.v1.LabelSelector !, 5 matchLabelKeys s *, 6 mismatchLabelKeys s *"
    ),
    "core.v1.PodAntiAffinity": (
        "1 requiredDuringSchedulingIgnoredDuringExecution core.v1.PodAffinityTerm *, 2 "
        "preferredDuringSchedulingIgnoredDuringExecution core.v1.WeightedPodAffinityTerm *"
    ),
    "core.v1.PodCertificateProjection": (
        "1 signerName s, 2 keyType s, 3 maxExpirationSeconds i !, 4 credentialBundlePath s, 5 keyPath s, 6 "
        "certificateChainPath s, 7 userAnnotations map:s:s, 8 user i !"
    ),
    "core.v1.PodDNSConfig": "1 nameservers s *, 2 searches s *, 3 options core.v1.PodDNSConfigOption *",
    "core.v1.PodDNSConfigOption": "1 name s, 2 value s !",
    "core.v1.PodOS": "1 name s !",
    "core.v1.PodReadinessGate": "1 conditionType s !",
    "core.v1.PodResourceClaim": "1 name s !, 3 resourceClaimName s !, 4 resourceClaimTemplateName s !",
    "core.v1.PodSchedulingGate": "1 name s !",
    "core.v1.PodSchedulingGroup": "1 podGroupName s !",
    "core.v1.PodSecurityContext": (
        "1 seLinuxOptions core.v1.SELinuxOptions !, 2 runAsUser i !, 3 runAsNonRoot b !, 4 "
        "supplementalGroups i *, 5 fsGroup i !, 6 runAsGroup i !, 7 sysctls core.v1.Sysctl *, 8 "
        "windowsOptions core.v1.WindowsSecurityContextOptions !, 9 fsGroupChangePolicy s !, 10 "
        "seccompProfile core.v1.SeccompProfile !, 11 appArmorProfile core.v1.AppArmorProfile !, 12 "
        "supplementalGroupsPolicy s !, 13 seLinuxChangePolicy s !"
    ),
    "core.v1.PodSpec": (
        "1 volumes core.v1.Volume *, 2 containers core.v1.Container *!, 3 restartPolicy s, 4 "
        "terminationGracePeriodSeconds i !, 5 activeDeadlineSeconds i !, 6 dnsPolicy s, 7 nodeSelector "
        "map:s:s, 8 serviceAccountName s, 9 serviceAccount s, 10 nodeName s, 11 hostNetwork b, 12 hostPID "
        "b, 13 hostIPC b, 14 securityContext core.v1.PodSecurityContext !, 15 imagePullSecrets "
        "core.v1.LocalObjectReference *, 16 hostname s, 17 subdomain s, 18 affinity core.v1.Affinity !, 19 "
        "schedulerName s, 20 initContainers core.v1.Container *, 21 automountServiceAccountToken b !, 22 "
        "tolerations core.v1.Toleration *, 23 hostAliases core.v1.HostAlias *, 24 priorityClassName s, 25 "
        "priority i !, 26 dnsConfig core.v1.PodDNSConfig !, 27 shareProcessNamespace b !, 28 readinessGates"
        " core.v1.PodReadinessGate *, 29 runtimeClassName s !, 30 enableServiceLinks b !, 31 "
        "preemptionPolicy s !, 32 overhead map:s:quantity, 33 topologySpreadConstraints "
        "core.v1.TopologySpreadConstraint *, 34 ephemeralContainers core.v1.EphemeralContainer *, 35 "
        "setHostnameAsFQDN b !, 36 os core.v1.PodOS !, 37 hostUsers b !, 38 schedulingGates "
        "core.v1.PodSchedulingGate *, 39 resourceClaims core.v1.PodResourceClaim *, 40 resources "
        "core.v1.ResourceRequirements !, 41 hostnameOverride s !, 43 schedulingGroup "
        "core.v1.PodSchedulingGroup !, 44 evictionResponders core.v1.EvictionResponder *"
    ),
    "core.v1.PodTemplateSpec": "1 metadata meta.v1.ObjectMeta, 2 spec core.v1.PodSpec",
    "core.v1.PortworxVolumeSource": "1 volumeID s !, 2 fsType s, 3 readOnly b",
    "core.v1.PreferredSchedulingTerm": "1 weight i !, 2 preference core.v1.NodeSelectorTerm !",
    "core.v1.Probe": (
        "1 handler core.v1.ProbeHandler ^!, 2 initialDelaySeconds i, 3 timeoutSeconds i, 4 periodSeconds i,"
        " 5 successThreshold i, 6 failureThreshold i, 7 terminationGracePeriodSeconds i !"
    ),
    "core.v1.ProbeHandler": (
        "1 exec core.v1.ExecAction !, 2 httpGet core.v1.HTTPGetAction !, 3 tcpSocket "
        "core.v1.TCPSocketAction !, 4 grpc core.v1.GRPCAction !"
    ),
    "core.v1.ProjectedVolumeSource": (
        "1 sources core.v1.VolumeProjection *!, 2 defaultMode i !, 3 defaultUser i !"
    ),
    "core.v1.QuobyteVolumeSource": (
        "1 registry s !, 2 volume s !, 3 readOnly b, 4 user s, 5 group s, 6 tenant s"
    ),
    "core.v1.RBDVolumeSource": (
        "1 monitors s *!, 2 image s !, 3 fsType s, 4 pool s, 5 user s, 6 keyring s, 7 secretRef "
        "core.v1.LocalObjectReference !, 8 readOnly b"
    ),
    "core.v1.ResourceClaim": "1 name s !, 2 request s",
    "core.v1.ResourceFieldSelector": "1 containerName s, 2 resource s !, 3 divisor quantity",
    "core.v1.ResourceRequirements": (
        "1 limits map:s:quantity, 2 requests map:s:quantity, 3 claims core.v1.ResourceClaim *"
    ),
    "core.v1.SELinuxOptions": "1 user s, 2 role s, 3 type s, 4 level s",
    "core.v1.ScaleIOVolumeSource": (
        "1 gateway s !, 2 system s !, 3 secretRef core.v1.LocalObjectReference !, 4 sslEnabled b, 5 "
        "protectionDomain s, 6 storagePool s, 7 storageMode s, 8 volumeName s, 9 fsType s, 10 readOnly b"
    ),
    "core.v1.SeccompProfile": "1 type s !, 2 localhostProfile s !",
    "core.v1.Secret": (
        "1 metadata meta.v1.ObjectMeta, 2 data map:s:y, 3 type s, 4 stringData map:s:s, 5 immutable b !"
    ),
    "core.v1.SecretEnvSource": "1 localObjectReference core.v1.LocalObjectReference ^!, 2 optional b !",
    "core.v1.SecretKeySelector": (
        "1 localObjectReference core.v1.LocalObjectReference ^!, 2 key s !, 3 optional b !"
    ),
    "core.v1.SecretProjection": (
        "1 localObjectReference core.v1.LocalObjectReference ^!, 2 items core.v1.KeyToPath *, 4 optional b !"
    ),
    "core.v1.SecretVolumeSource": (
        "1 secretName s, 2 items core.v1.KeyToPath *, 3 defaultMode i !, 4 optional b !, 5 defaultUser i !"
    ),
    "core.v1.SecurityContext": (
        "1 capabilities core.v1.Capabilities !, 2 privileged b !, 3 seLinuxOptions core.v1.SELinuxOptions "
        "!, 4 runAsUser i !, 5 runAsNonRoot b !, 6 readOnlyRootFilesystem b !, 7 allowPrivilegeEscalation b"
        " !, 8 runAsGroup i !, 9 procMount s !, 10 windowsOptions core.v1.WindowsSecurityContextOptions !, "
        "11 seccompProfile core.v1.SeccompProfile !, 12 appArmorProfile core.v1.AppArmorProfile !"
    ),
    "core.v1.Service": (
        "1 metadata meta.v1.ObjectMeta, 2 spec core.v1.ServiceSpec, 3 status core.v1.ServiceStatus"
    ),
    "core.v1.ServiceAccount": (
        "1 metadata meta.v1.ObjectMeta, 2 secrets core.v1.ObjectReference *, 3 imagePullSecrets "
        "core.v1.LocalObjectReference *, 4 automountServiceAccountToken b !"
    ),
    "core.v1.ServiceAccountTokenProjection": "1 audience s, 2 expirationSeconds i !, 3 path s !, 4 user i !",
    "core.v1.ServicePort": (
        "1 name s, 2 protocol s, 3 port i !, 4 targetPort intorstring, 5 nodePort i, 6 appProtocol s !"
    ),
    "core.v1.ServiceSpec": (
        "1 ports core.v1.ServicePort *, 2 selector map:s:s, 3 clusterIP s, 4 type s, 5 externalIPs s *, 7 "
        "sessionAffinity s, 8 loadBalancerIP s, 9 loadBalancerSourceRanges s *, 10 externalName s, 11 "
        "externalTrafficPolicy s, 12 healthCheckNodePort i, 13 publishNotReadyAddresses b, 14 "
        "sessionAffinityConfig core.v1.SessionAffinityConfig !, 17 ipFamilyPolicy s !, 18 clusterIPs s *, "
        "19 ipFamilies s *, 20 allocateLoadBalancerNodePorts b !, 21 loadBalancerClass s !, 22 "
        "internalTrafficPolicy s !, 23 trafficDistribution s !"
    ),
    "core.v1.SessionAffinityConfig": "1 clientIP core.v1.ClientIPConfig !",
    "core.v1.SleepAction": "1 seconds i !",
    "core.v1.StorageOSVolumeSource": (
        "1 volumeName s, 2 volumeNamespace s, 3 fsType s, 4 readOnly b, 5 secretRef "
        "core.v1.LocalObjectReference !"
    ),
    "core.v1.Sysctl": "1 name s !, 2 value s !",
    "core.v1.TCPSocketAction": "1 port intorstring !, 2 host s",
    "core.v1.Toleration": "1 key s, 2 operator s, 3 value s, 4 effect s, 5 tolerationSeconds i !",
    "core.v1.TopologySpreadConstraint": (
        "1 maxSkew i !, 2 topologyKey s !, 3 whenUnsatisfiable s !, 4 labelSelector meta.v1.LabelSelector "
        "!, 5 minDomains i !, 6 nodeAffinityPolicy s !, 7 nodeTaintsPolicy s !, 8 matchLabelKeys s *"
    ),
    "core.v1.TypedLocalObjectReference": "1 apiGroup s !, 2 kind s !, 3 name s !",
    "core.v1.TypedObjectReference": "1 apiGroup s !, 2 kind s !, 3 name s !, 4 namespace s !",
    "core.v1.Volume": "1 name s !, 2 volumeSource core.v1.VolumeSource ^!",
    "core.v1.VolumeDevice": "1 name s !, 2 devicePath s !",
    "core.v1.VolumeMount": (
        "1 name s !, 2 readOnly b, 3 mountPath s !, 4 subPath s, 5 mountPropagation s !, 6 subPathExpr s, 7"
        " recursiveReadOnly s !, 8 bindMountOptions s *"
    ),
    "core.v1.VolumeProjection": (
        "1 secret core.v1.SecretProjection !, 2 downwardAPI core.v1.DownwardAPIProjection !, 3 configMap "
        "core.v1.ConfigMapProjection !, 4 serviceAccountToken core.v1.ServiceAccountTokenProjection !, 5 "
        "clusterTrustBundle core.v1.ClusterTrustBundleProjection !, 6 podCertificate "
        "core.v1.PodCertificateProjection !"
    ),
    "core.v1.VolumeResourceRequirements": "1 limits map:s:quantity, 2 requests map:s:quantity",
    "core.v1.VolumeSource": (
        "1 hostPath core.v1.HostPathVolumeSource !, 2 emptyDir core.v1.EmptyDirVolumeSource !, 3 "
        "gcePersistentDisk core.v1.GCEPersistentDiskVolumeSource !, 4 awsElasticBlockStore "
        "core.v1.AWSElasticBlockStoreVolumeSource !, 5 gitRepo core.v1.GitRepoVolumeSource !, 6 secret "
        "core.v1.SecretVolumeSource !, 7 nfs core.v1.NFSVolumeSource !, 8 iscsi core.v1.ISCSIVolumeSource "
        "!, 9 glusterfs core.v1.GlusterfsVolumeSource !, 10 persistentVolumeClaim "
        "core.v1.PersistentVolumeClaimVolumeSource !, 11 rbd core.v1.RBDVolumeSource !, 12 flexVolume "
        "core.v1.FlexVolumeSource !, 13 cinder core.v1.CinderVolumeSource !, 14 cephfs "
        "core.v1.CephFSVolumeSource !, 15 flocker core.v1.FlockerVolumeSource !, 16 downwardAPI "
        "core.v1.DownwardAPIVolumeSource !, 17 fc core.v1.FCVolumeSource !, 18 azureFile "
        "core.v1.AzureFileVolumeSource !, 19 configMap core.v1.ConfigMapVolumeSource !, 20 vsphereVolume "
        "core.v1.VsphereVirtualDiskVolumeSource !, 21 quobyte core.v1.QuobyteVolumeSource !, 22 azureDisk "
        "core.v1.AzureDiskVolumeSource !, 23 photonPersistentDisk core.v1.PhotonPersistentDiskVolumeSource "
        "!, 24 portworxVolume core.v1.PortworxVolumeSource !, 25 scaleIO core.v1.ScaleIOVolumeSource !, 26 "
        "projected core.v1.ProjectedVolumeSource !, 27 storageos core.v1.StorageOSVolumeSource !, 28 csi "
        "core.v1.CSIVolumeSource !, 29 ephemeral core.v1.EphemeralVolumeSource !, 30 image "
        "core.v1.ImageVolumeSource !"
    ),
    "core.v1.VsphereVirtualDiskVolumeSource": (
        "1 volumePath s !, 2 fsType s, 3 storagePolicyName s, 4 storagePolicyID s"
    ),
    "core.v1.WeightedPodAffinityTerm": "1 weight i !, 2 podAffinityTerm core.v1.PodAffinityTerm !",
    "core.v1.WindowsSecurityContextOptions": (
        "1 gmsaCredentialSpecName s !, 2 gmsaCredentialSpec s !, 3 runAsUserName s !, 4 hostProcess b !"
    ),
    "meta.v1.DeleteOptions": (
        "1 gracePeriodSeconds i !, 2 preconditions meta.v1.Preconditions !, 3 orphanDependents b !, 4 "
        "propagationPolicy s !, 5 dryRun s *, 6 ignoreStoreReadErrorWithClusterBreakingPotential b !"
    ),
    "meta.v1.LabelSelector": "1 matchLabels map:s:s, 2 matchExpressions meta.v1.LabelSelectorRequirement *",
    "meta.v1.LabelSelectorRequirement": "1 key s !, 2 operator s !, 3 values s *",
    "meta.v1.ManagedFieldsEntry": (
        "1 manager s, 2 operation s, 3 apiVersion s, 4 time time !, 6 fieldsType s, 7 fieldsV1 raw !, 8 "
        "subresource s"
    ),
    "meta.v1.ObjectMeta": (
        "1 name s, 2 generateName s, 3 namespace s, 4 selfLink s, 5 uid s, 6 resourceVersion s, 7 "
        "generation i, 8 creationTimestamp time, 9 deletionTimestamp time !, 10 deletionGracePeriodSeconds "
        "i !, 11 labels map:s:s, 12 annotations map:s:s, 13 ownerReferences meta.v1.OwnerReference *, 14 "
        "finalizers s *, 17 managedFields meta.v1.ManagedFieldsEntry *"
    ),
    "meta.v1.OwnerReference": (
        "1 kind s !, 3 name s !, 4 uid s !, 5 apiVersion s !, 6 controller b !, 7 blockOwnerDeletion b !"
    ),
    "meta.v1.Preconditions": "1 uid s !, 2 resourceVersion s !",
    "networking.v1.HTTPIngressPath": "1 path s, 2 backend networking.v1.IngressBackend !, 3 pathType s !",
    "networking.v1.HTTPIngressRuleValue": "1 paths networking.v1.HTTPIngressPath *!",
    "networking.v1.IPBlock": "1 cidr s !, 2 except s *",
    "networking.v1.Ingress": (
        "1 metadata meta.v1.ObjectMeta, 2 spec networking.v1.IngressSpec, 3 status "
        "networking.v1.IngressStatus"
    ),
    "networking.v1.IngressBackend": (
        "3 resource core.v1.TypedLocalObjectReference !, 4 service networking.v1.IngressServiceBackend !"
    ),
    "networking.v1.IngressRule": "1 host s, 2 ingressRuleValue networking.v1.IngressRuleValue ^!",
    "networking.v1.IngressRuleValue": "1 http networking.v1.HTTPIngressRuleValue !",
    "networking.v1.IngressServiceBackend": "1 name s !, 2 port networking.v1.ServiceBackendPort",
    "networking.v1.IngressSpec": (
        "1 defaultBackend networking.v1.IngressBackend !, 2 tls networking.v1.IngressTLS *, 3 rules "
        "networking.v1.IngressRule *, 4 ingressClassName s !"
    ),
    "networking.v1.IngressTLS": "1 hosts s *, 2 secretName s",
    "networking.v1.NetworkPolicy": "1 metadata meta.v1.ObjectMeta, 2 spec networking.v1.NetworkPolicySpec",
    "networking.v1.NetworkPolicyEgressRule": (
        "1 ports networking.v1.NetworkPolicyPort *, 2 to networking.v1.NetworkPolicyPeer *"
    ),
    "networking.v1.NetworkPolicyIngressRule": (
        "1 ports networking.v1.NetworkPolicyPort *, 2 from networking.v1.NetworkPolicyPeer *"
    ),
    "networking.v1.NetworkPolicyPeer": (
        "1 podSelector meta.v1.LabelSelector !, 2 namespaceSelector meta.v1.LabelSelector !, 3 ipBlock "
        "networking.v1.IPBlock !"
    ),
    "networking.v1.NetworkPolicyPort": "1 protocol s !, 2 port intorstring !, 3 endPort i !",
    "networking.v1.NetworkPolicySpec": (
        "1 podSelector meta.v1.LabelSelector !, 2 ingress networking.v1.NetworkPolicyIngressRule *, 3 "
        "egress networking.v1.NetworkPolicyEgressRule *, 4 policyTypes s *"
    ),
    "networking.v1.ServiceBackendPort": "1 name s, 2 number i",
    "policy.v1.PodDisruptionBudget": (
        "1 metadata meta.v1.ObjectMeta, 2 spec policy.v1.PodDisruptionBudgetSpec, 3 status "
        "policy.v1.PodDisruptionBudgetStatus"
    ),
    "policy.v1.PodDisruptionBudgetSpec": (
        "1 minAvailable intorstring !, 2 selector meta.v1.LabelSelector !, 3 maxUnavailable intorstring !, "
        "4 unhealthyPodEvictionPolicy s !"
    ),
    "rbac.v1.AggregationRule": "1 clusterRoleSelectors meta.v1.LabelSelector *",
    "rbac.v1.ClusterRole": (
        "1 metadata meta.v1.ObjectMeta, 2 rules rbac.v1.PolicyRule *!, 3 aggregationRule "
        "rbac.v1.AggregationRule !"
    ),
    "rbac.v1.ClusterRoleBinding": (
        "1 metadata meta.v1.ObjectMeta, 2 subjects rbac.v1.Subject *, 3 roleRef rbac.v1.RoleRef !"
    ),
    "rbac.v1.PolicyRule": (
        "1 verbs s *!, 2 apiGroups s *, 3 resources s *, 4 resourceNames s *, 5 nonResourceURLs s *"
    ),
    "rbac.v1.Role": "1 metadata meta.v1.ObjectMeta, 2 rules rbac.v1.PolicyRule *!",
    "rbac.v1.RoleBinding": (
        "1 metadata meta.v1.ObjectMeta, 2 subjects rbac.v1.Subject *, 3 roleRef rbac.v1.RoleRef !"
    ),
    "rbac.v1.RoleRef": "1 apiGroup s !, 2 kind s !, 3 name s !",
    "rbac.v1.Subject": "1 kind s !, 2 apiGroup s, 3 name s !, 4 namespace s",
}

MESSAGES.update(ADMIN_MESSAGES)

import type { CfnTemplate } from '../../local/model';

/**
 * What a function is in the design, from its construct path (`WelcomeConsumer` → `welcome`);
 * the API's avatar upload function is told apart from its neighbour by its own id.
 */
const ROLE_OF_CONSTRUCT: Readonly<Record<string, string>> = {
  'CustomerApi/AvatarUploadFunction': 'avatar-upload',
  CustomerApi: 'api',
  StreamPublisher: 'publisher',
  WelcomeConsumer: 'welcome',
  ArchiveConsumer: 'archive',
  MarketingConsumer: 'marketing',
};
export const roleOfConstructPath = (constructPath: string | undefined): string | undefined => {
  const [, construct = '', child = ''] = constructPath?.split('/') ?? [];
  return ROLE_OF_CONSTRUCT[`${construct}/${child}`] ?? ROLE_OF_CONSTRUCT[construct];
};

export interface FunctionConfig {
  readonly role: string;
  readonly logicalId: string;
  readonly memoryMB: number;
  readonly architecture: string;
  readonly timeoutSeconds: number;
}

export interface MappingConfig {
  readonly role: string;
  readonly source: 'stream' | 'sqs';
  readonly batchSize: number;
  /** As deployed, not time-scaled. */
  readonly windowSeconds: number;
}

/** Memory, architecture and event source settings of each function, from the synthesized template. */
export const readTemplate = (
  template: CfnTemplate,
): { functions: FunctionConfig[]; mappings: MappingConfig[] } => {
  const roles = new Map<string, string>();
  const functions: FunctionConfig[] = [];
  for (const [id, r] of Object.entries(template.Resources)) {
    if (r.Type !== 'AWS::Lambda::Function') continue;
    const role = roleOfConstructPath(r.Metadata?.['aws:cdk:path'] as string | undefined);
    if (role === undefined) continue;
    roles.set(id, role);
    const p = r.Properties ?? {};
    const architectures = (p.Architectures as string[] | undefined) ?? ['x86_64'];
    functions.push({
      role,
      logicalId: id,
      memoryMB: Number(p.MemorySize ?? 128),
      architecture: architectures[0] ?? 'x86_64',
      timeoutSeconds: Number(p.Timeout ?? 3),
    });
  }
  const mappings: MappingConfig[] = [];
  for (const r of Object.values(template.Resources)) {
    if (r.Type !== 'AWS::Lambda::EventSourceMapping') continue;
    const p = r.Properties ?? {};
    const ref = (p.FunctionName as { Ref?: string } | undefined)?.Ref ?? '';
    const role = roles.get(ref);
    if (role === undefined) continue;
    const source = JSON.stringify(p.EventSourceArn ?? '').includes('StreamArn') ? 'stream' : 'sqs';
    mappings.push({
      role,
      source,
      batchSize: Number(p.BatchSize ?? (source === 'stream' ? 100 : 10)),
      windowSeconds: Number(p.MaximumBatchingWindowInSeconds ?? 0),
    });
  }
  return { functions, mappings };
};

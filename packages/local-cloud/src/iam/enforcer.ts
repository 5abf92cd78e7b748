import type { ResolveContext } from '../intrinsics';
import type { CfnTemplate } from '../model';
import { asList, matchesAction } from './evaluate';
import {
  authorize,
  type CallerIdentity,
  type PolicyKind,
  type ResourcePolicies,
  templateResourcePolicies,
} from './resource-policies';
import { type FunctionRole, functionRole } from './roles';
import type { AuthorizationRequest, PolicyStatement, StatementRef } from './types';

/**
 * `enforce`: a call the role does not allow gets AWS's access-denied answer. `report`: it
 * goes through, and is listed as denied. `off`: nothing is evaluated.
 */
export const IAM_MODES = ['enforce', 'report', 'off'] as const;
export type IamMode = (typeof IAM_MODES)[number];

/** Who made the call: the function's code, or Lambda itself with the function's role (its pollers). */
export type Caller = 'function' | 'platform';

export interface GrantUse {
  readonly policy: string;
  readonly statement: number;
  /** The action as the statement writes it (`s3:GetObject`, `kms:GenerateDataKey*`). */
  readonly action: string;
  readonly resources: readonly string[];
  readonly calls: number;
  readonly usedBy: readonly Caller[];
}

export interface DeniedUse {
  readonly action: string;
  readonly resource: string;
  readonly operation: string;
  readonly by: Caller;
  readonly explicit: boolean;
  /** Whose policy denied: the role's (identity), or the resource's own. */
  readonly in: PolicyKind;
  readonly calls: number;
}

export interface FunctionIamReport {
  readonly function: string;
  readonly role: string;
  readonly mode: IamMode;
  /** Every action each Allow statement grants, with how often it allowed a call, and whose. */
  readonly granted: readonly GrantUse[];
  /** What the role did not allow: denied in `enforce`, let through in `report`. */
  readonly denied: readonly DeniedUse[];
  /** Calls that were not evaluated, and why (an operation not mapped, a managed policy not known). */
  readonly unchecked: readonly {
    readonly operation: string;
    readonly why: string;
    readonly calls: number;
  }[];
}

export interface Verdict {
  /** What AWS would answer: allowed, or the first request it denies. */
  readonly allowed: boolean;
  readonly denied?: {
    readonly request: AuthorizationRequest;
    readonly explicit: boolean;
    readonly in: PolicyKind;
  };
  /** Whether the call goes through: always, unless the mode is `enforce`. */
  readonly proceed: boolean;
}

/** AWS's access-denied message, as an assumed role's session sees it. */
export const accessDeniedMessage = (
  principal: string,
  request: AuthorizationRequest,
  reason: { readonly explicit: boolean; readonly in: PolicyKind },
): string =>
  `User: ${principal} is not authorized to perform: ${request.action} on resource: ${request.resource} ` +
  (reason.explicit
    ? `with an explicit deny in ${reason.in === 'identity' ? 'an identity' : 'a resource'}-based policy`
    : `because no ${reason.in}-based policy allows the ${request.action} action`);

/**
 * One function's role, evaluated for each of its calls with the policies of the resources
 * they name (src/iam/resource-policies.ts), with what each call used of it: the report says
 * what is granted and never used.
 */
export class RoleEnforcer {
  private readonly grants: {
    policy: string;
    statement: number;
    action: string;
    resources: readonly string[];
    calls: number;
    usedBy: Set<Caller>;
  }[] = [];
  private readonly denials = new Map<string, DeniedUse>();
  private readonly skipped = new Map<string, { operation: string; why: string; calls: number }>();
  private readonly who: CallerIdentity;

  constructor(
    readonly functionName: string,
    readonly role: FunctionRole,
    readonly mode: IamMode,
    /** `arn:aws:sts::<account>:assumed-role/<role>/<function>`, for the messages. */
    readonly principal: string,
    /** The template's resource policies, and the role's ARN they may name; none: identity only. */
    readonly resources?: { readonly policies: ResourcePolicies; readonly roleArn: string },
  ) {
    this.who = {
      accountId: principal.split(':')[4] ?? '',
      arns: [principal, ...(resources === undefined ? [] : [resources.roleArn])],
    };
    for (const policy of role.policies) {
      asList<PolicyStatement>(policy.document.Statement).forEach((statement, index) => {
        if (statement.Effect !== 'Allow') return;
        const resources = asList(statement.Resource ?? statement.NotResource);
        for (const action of asList(statement.Action ?? statement.NotAction)) {
          this.grants.push({
            policy: policy.name,
            statement: index,
            action,
            resources,
            calls: 0,
            usedBy: new Set(),
          });
        }
      });
    }
  }

  /** Evaluates one call: every request it makes of IAM must be allowed. */
  check(operation: string, requests: readonly AuthorizationRequest[], by: Caller): Verdict {
    if (this.mode === 'off') return { allowed: true, proceed: true };
    if (this.role.unknownManagedPolicies.length > 0) {
      this.uncheck(
        operation,
        `the role has managed policies not known here: ${this.role.unknownManagedPolicies.join(', ')}`,
      );
      return { allowed: true, proceed: true };
    }
    for (const request of requests) {
      const decision = authorize(
        this.role.policies,
        this.resources?.policies.forResource(request.resource) ?? [],
        this.who,
        request,
      );
      if (decision.effect !== 'allow') {
        const denied =
          decision.effect === 'deny'
            ? { request, explicit: true, in: decision.in }
            : { request, explicit: false, in: decision.missing };
        this.recordDenial(operation, denied, by);
        return { allowed: false, denied, proceed: this.mode !== 'enforce' };
      }
      this.recordUse(request, decision.allowedBy, by);
    }
    return { allowed: true, proceed: true };
  }

  /** A call that was not evaluated: allowed, and listed with why. */
  uncheck(operation: string, why: string): void {
    const key = `${operation}\n${why}`;
    const entry = this.skipped.get(key) ?? { operation, why, calls: 0 };
    entry.calls += 1;
    this.skipped.set(key, entry);
  }

  report(): FunctionIamReport {
    return {
      function: this.functionName,
      role: this.role.name,
      mode: this.mode,
      granted: this.grants.map(({ usedBy, ...grant }) => ({
        ...grant,
        usedBy: [...usedBy].sort(),
      })),
      denied: [...this.denials.values()],
      unchecked: [...this.skipped.values()],
    };
  }

  private recordUse(
    request: AuthorizationRequest,
    allowedBy: readonly StatementRef[],
    by: Caller,
  ): void {
    for (const ref of allowedBy) {
      for (const grant of this.grants) {
        if (grant.policy !== ref.policy || grant.statement !== ref.index) continue;
        if (!matchesAction(grant.action, request.action)) continue;
        grant.calls += 1;
        grant.usedBy.add(by);
      }
    }
  }

  private recordDenial(
    operation: string,
    denied: NonNullable<Verdict['denied']>,
    by: Caller,
  ): void {
    const { request } = denied;
    const key = [request.action, request.resource, operation, by].join('\n');
    const previous = this.denials.get(key);
    this.denials.set(key, {
      action: request.action,
      resource: request.resource,
      operation,
      by,
      explicit: denied.explicit,
      in: denied.in,
      calls: (previous?.calls ?? 0) + 1,
    });
  }
}

/** The report's lines for one function: what was denied, what is granted and never used. */
export const describeReport = (report: FunctionIamReport): string[] => {
  const lines: string[] = [];
  const unused = report.granted.filter((g) => g.calls === 0);
  const platform = report.granted.filter((g) => g.usedBy.includes('platform'));
  lines.push(
    `${report.function} (role ${report.role}, IAM ${report.mode}): ${report.granted.length - unused.length} of ${report.granted.length} grants used` +
      (platform.length > 0
        ? ` (${platform.map((g) => g.action).join(', ')} used by the platform)`
        : ''),
  );
  for (const d of report.denied) {
    const why = d.in === 'resource' ? ', by the resource’s policy' : '';
    lines.push(
      `  denied ${d.action} on ${d.resource} (${d.operation}, ${d.by}${why}) × ${d.calls}`,
    );
  }
  for (const g of unused) {
    lines.push(`  granted, never used: ${g.action} on ${g.resources.join(', ')} (${g.policy})`);
  }
  for (const u of report.unchecked) {
    lines.push(`  unchecked: ${u.operation} × ${u.calls}: ${u.why}`);
  }
  return lines;
};

/**
 * The enforcer for the function `functionId` of `template`, as the local cloud builds it: the
 * function's role from the template, and the template's resource policies, resolved in
 * `context` (the resources' local names and ARNs). `resourcePolicies` lets many functions
 * share one reading of them.
 */
export const templateRoleEnforcer = (
  template: CfnTemplate,
  functionId: string,
  context: ResolveContext,
  options: {
    readonly mode: IamMode;
    /** The report's name for the function; its logical id by default. */
    readonly name?: string;
    readonly resourcePolicies?: ResourcePolicies;
  },
): RoleEnforcer => {
  const role = functionRole(template, functionId, context);
  const functionName = context.resources[functionId]?.ref ?? functionId;
  return new RoleEnforcer(
    options.name ?? functionId,
    role,
    options.mode,
    `arn:aws:sts::${context.accountId}:assumed-role/${role.name}/${functionName}`,
    {
      policies: options.resourcePolicies ?? templateResourcePolicies(template, context),
      roleArn:
        context.resources[role.logicalId ?? '']?.attributes.Arn ??
        `arn:aws:iam::${context.accountId}:role/${role.name}`,
    },
  );
};

import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { LeaderElectionModuleOptions } from './interfaces/leader-election-options.interface.js';

export const {
  ConfigurableModuleClass: ConfigurableLeaderElectionModule,
  MODULE_OPTIONS_TOKEN: LEADER_ELECTION_MODULE_OPTIONS,
  OPTIONS_TYPE: LEADER_ELECTION_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: LEADER_ELECTION_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<LeaderElectionModuleOptions>()
  .setClassMethodName('forRoot')
  // Global by default: jobs live in feature modules, and one election serves the whole app.
  .setExtras({ isGlobal: true }, (definition, extras) => ({ ...definition, global: extras.isGlobal }))
  .build();

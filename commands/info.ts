import { MessageFlags } from 'discord.js';
import type { Command } from '../src/discord/command.js';

export const info: Command = {
  definition: { name: 'info', description: 'Your queued and running jobs and your usage' },
  async execute(ctx, interaction) {
    const userId = interaction.user.id;
    const [recent, queued, running, policy] = await Promise.all([
      ctx.records.recentOf(userId, 50),
      ctx.caps.queuedCount(interaction.guildId, userId),
      ctx.caps.runningJobs(userId),
      ctx.policies.get(interaction.guildId),
    ]);
    const done = recent.filter((r) => r.status === 'done');
    const seconds = done.reduce((sum, r) => sum + (r.result?.seconds ?? 0), 0);
    const active = recent.filter((r) => r.status === 'queued' || r.status === 'running').slice(0, 10);
    const lines = [
      '**Your jobs**',
      `waiting: ${queued} of ${policy.maxQueuedPerUser} · running: ${running.length} of ${policy.maxRunningPerUser}`,
      `finished recently: ${done.length} jobs, ${seconds.toFixed(1)} s of rendering`,
      `model: ${ctx.model.name}`,
      ...active.map((r) => `- \`${r.id}\` ${r.status}: ${(r.description.prompt || r.kind).slice(0, 80)}`),
    ];
    await interaction.reply({ content: lines.join('\n'), flags: MessageFlags.Ephemeral });
  },
};
